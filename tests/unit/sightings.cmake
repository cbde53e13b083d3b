# Sightings to MISP (src/sightings): the pure pieces (unit), and a small
# driver binary that tests/e2e/sightings_delivery.py drives against the MISP
# test server (label e2e).
iocb_unit_test(test_sightings SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sightings.c DEPS iocb_sightings)
add_executable(sightings_driver ${CMAKE_CURRENT_LIST_DIR}/sightings_driver.c)
target_link_libraries(sightings_driver PRIVATE iocb_sightings)
add_test(NAME e2e_sightings_delivery COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/e2e/sightings_delivery.py)
set_tests_properties(e2e_sightings_delivery PROPERTIES LABELS e2e TIMEOUT 200
  ENVIRONMENT "IOCB_SIGHTINGS_DRIVER=$<TARGET_FILE:sightings_driver>;PYTHONDONTWRITEBYTECODE=1")
# The bus frame parser (iocb_sightings_parse_bus) with real frames of both generations and bad ones.
iocb_unit_test(test_sightings_bus SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sightings_bus.c DEPS iocb_sightings)
