# misp_server.py --kafka-bootstrap against the kafka_mock process (issue #4, reference §2).
# Needs /usr/bin/python3 with python3-zmq and python3-confluent-kafka (scripts/deps.sh).
add_test(NAME test_misp_kafka
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_misp_kafka.py $<TARGET_FILE:kafka_mock>)
set_tests_properties(test_misp_kafka PROPERTIES LABELS e2e TIMEOUT 120)
