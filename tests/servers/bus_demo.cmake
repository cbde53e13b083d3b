# The zmq-app endpoint (src/serve/bus) end to end with the test client zmq_app.py:
# bus_demo links the module alone; test_bus_zmq_app.py drives it (issue #13 §1).
# Needs /usr/bin/python3 with python3-zmq (scripts/deps.sh).
add_executable(bus_demo ${CMAKE_CURRENT_LIST_DIR}/bus_demo.c)
target_link_libraries(bus_demo PRIVATE iocb_bus iocb_store)
add_test(NAME test_bus_zmq_app
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_bus_zmq_app.py $<TARGET_FILE:bus_demo>)
set_tests_properties(test_bus_zmq_app PROPERTIES LABELS e2e TIMEOUT 60)
