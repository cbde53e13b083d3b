# SPDX-License-Identifier: Apache-2.0
# pipe/outputs/es_bulk.c: the Elasticsearch _bulk protocol's pure functions
# (framing, URL, response parsing, retry judgement). Built from es_bulk.c alone
# so the test does not depend on the rest of the pipeline.
iocb_unit_test(test_pipe_es_bulk
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pipe_es_bulk.c ${PROJECT_SOURCE_DIR}/src/pipe/outputs/es_bulk.c
  DEPS iocb_json iocb_core)
