# `iocbus bus keygen` from the command line (tests/cli/test_bus.sh).
add_test(NAME test_cli_bus COMMAND bash ${PROJECT_SOURCE_DIR}/tests/cli/test_bus.sh $<TARGET_FILE:iocbus>)
set_tests_properties(test_cli_bus PROPERTIES LABELS golden TIMEOUT 60)
