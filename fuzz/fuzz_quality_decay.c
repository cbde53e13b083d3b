/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the decaying model parser (quality/decay.h): any input either fails
 * with an error or yields a model whose parameters the formula can use
 * (lifetime and decay_speed > 0, bounded base_score_config), and the
 * expiry and score of that model never misbehave (UBSan catches a float
 * to integer overflow).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quality/decay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iocb_decay_model m;
	struct iocb_err err;
	if (iocb_decay_model_parse((const char *)data, size, &m, &err) != IOCB_OK)
		return 0;
	if (!(m.lifetime_d > 0) || !(m.decay_speed > 0) || m.nbsc > IOCB_DECAY_MAX_BSC)
		abort();
	if (memchr(m.name, '\0', sizeof(m.name)) == NULL)
		abort();
	int64_t e = iocb_decay_expiry(&m, m.default_base_score, 1700000000);
	double s = iocb_decay_score(&m, m.default_base_score, 86400);
	if (e < 0 || isnan(s))
		abort();
	return 0;
}
