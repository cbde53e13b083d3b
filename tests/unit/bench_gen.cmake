# The benchmark data generator checks its own output shape (fast, 1000 attributes).
add_test(NAME gen_misp_check COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/bench/gen_misp.py --check)
set_tests_properties(gen_misp_check PROPERTIES LABELS unit TIMEOUT 60)
