# End-to-end checks of the iocbus command on the bundled example intel.
add_test(NAME test_cli COMMAND bash ${PROJECT_SOURCE_DIR}/tests/cli/test_cli.sh $<TARGET_FILE:iocbus> ${PROJECT_SOURCE_DIR})
set_tests_properties(test_cli PROPERTIES LABELS golden TIMEOUT 120)
