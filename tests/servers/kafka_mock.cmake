# librdkafka's mock cluster as a process, for end-to-end tests (issue #4), and its self-test with kcat.
add_executable(kafka_mock ${CMAKE_CURRENT_LIST_DIR}/kafka_mock.c)
target_link_libraries(kafka_mock PRIVATE PkgConfig::RDKAFKA)
add_test(NAME test_kafka_mock COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_kafka_mock.sh $<TARGET_FILE:kafka_mock>)
set_tests_properties(test_kafka_mock PROPERTIES LABELS e2e TIMEOUT 60)
