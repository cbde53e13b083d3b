# End-to-end checks of the iocbus command on the bundled example intel.
add_test(NAME test_cli COMMAND bash ${PROJECT_SOURCE_DIR}/tests/cli/test_cli.sh $<TARGET_FILE:iocbus> ${PROJECT_SOURCE_DIR})
set_tests_properties(test_cli PROPERTIES LABELS golden TIMEOUT 120)
# A damaged or full store from the command line (issue #11); mounts a small tmpfs when run as root.
add_test(NAME test_cli_store COMMAND bash ${PROJECT_SOURCE_DIR}/tests/cli/test_store.sh $<TARGET_FILE:iocbus>)
set_tests_properties(test_cli_store PROPERTIES LABELS golden TIMEOUT 300)
