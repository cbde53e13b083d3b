# Threat Bus zmq-app test client (both generations) and its self-test against an in-test
# fake host (issue #13). Needs /usr/bin/python3 with python3-zmq (scripts/deps.sh).
add_test(NAME test_zmq_app
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_zmq_app.py)
set_tests_properties(test_zmq_app PROPERTIES LABELS e2e TIMEOUT 60)
