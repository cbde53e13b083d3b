# Faithful Elasticsearch `_bulk` test server (elastic.md §4) and its self-test (issue #5).
# Needs only /usr/bin/python3 (standard library).
add_test(NAME test_es_server
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_es_server.py)
set_tests_properties(test_es_server PROPERTIES LABELS e2e TIMEOUT 120)
