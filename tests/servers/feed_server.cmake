# Static MISP feed test server (ETag / If-None-Match, failure injection) and its self-test (issue #4).
# Needs only /usr/bin/python3 (standard library).
add_test(NAME test_feed_server
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_feed_server.py)
set_tests_properties(test_feed_server PROPERTIES LABELS e2e TIMEOUT 120)
