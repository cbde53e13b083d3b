# SPDX-License-Identifier: Apache-2.0
# kafka: the librdkafka configuration builder and offset helper shared by the MISP source and the pipeline (tests/unit/test_kafka.c).
iocb_unit_test(test_kafka SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_kafka.c DEPS iocb_kafka)
