# Golden tests: parse every MISP fixture and compare a canonical rendering of
# what was delivered with tests/golden/misp/<name>.expected. Regenerate with
#   IOCB_UPDATE_GOLDEN=1 ctest -R golden   (then review the diff).
add_executable(test_misp_golden ${CMAKE_CURRENT_LIST_DIR}/test_misp_golden.c)
target_link_libraries(test_misp_golden PRIVATE iocb_misp iocb_json iocb_core)
add_test(NAME test_misp_golden COMMAND test_misp_golden ${IOCB_FIXTURES_DIR}/misp ${CMAKE_CURRENT_LIST_DIR}/misp)
set_tests_properties(test_misp_golden PROPERTIES LABELS golden TIMEOUT 120)
