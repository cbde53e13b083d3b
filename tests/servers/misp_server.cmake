# Faithful MISP test server (REST + ZeroMQ + control plane) and its self-test (issue #4).
# Needs /usr/bin/python3 with python3-zmq (scripts/deps.sh installs it).
add_test(NAME test_misp_server
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_misp_server.py)
set_tests_properties(test_misp_server PROPERTIES LABELS e2e TIMEOUT 300)
