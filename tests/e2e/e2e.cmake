# End-to-end tests of `iocbus run` (issue #4): every tests/e2e/test_*.py is one
# ctest test (label e2e) run with /usr/bin/python3 against the real daemon,
# the MISP test server, libzmq and librdkafka's mock cluster, on loopback.
file(GLOB IOCB_E2E_PY CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/test_*.py)
foreach(f ${IOCB_E2E_PY})
  get_filename_component(n ${f} NAME_WE)
  add_test(NAME e2e_${n} COMMAND /usr/bin/python3 ${f})
  set_tests_properties(e2e_${n} PROPERTIES LABELS e2e TIMEOUT 400
    ENVIRONMENT "IOCB_BIN=$<TARGET_FILE:iocbus>;IOCB_KAFKA_MOCK=$<TARGET_FILE:kafka_mock>;PYTHONDONTWRITEBYTECODE=1")
endforeach()
# issue #16 status page: the browser test exits 77 (skipped) only when chromium/chromedriver/selenium are missing.
if(TEST e2e_test_run_status_page)
  set_tests_properties(e2e_test_run_status_page PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 180)
endif()
