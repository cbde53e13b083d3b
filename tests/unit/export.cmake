# Exports (src/export through export.h): the "values" format and the atomic file sink.
iocb_unit_test(test_export SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_export.c ${CMAKE_CURRENT_LIST_DIR}/fixture_store.c
               DEPS iocb_export iocb_store)
# The "zeek" format, read back through a model of Zeek's Intel file reader (zeek_reader.c).
iocb_unit_test(test_export_zeek SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_export_zeek.c ${CMAKE_CURRENT_LIST_DIR}/zeek_reader.c
               ${CMAKE_CURRENT_LIST_DIR}/export_text.c ${CMAKE_CURRENT_LIST_DIR}/fixture_store.c DEPS iocb_export iocb_store)
# The "suricata-dataset" format, loaded back through models of Suricata 6/7's and 8's readers (suricata_reader.c).
iocb_unit_test(test_export_suricata SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_export_suricata.c
               ${CMAKE_CURRENT_LIST_DIR}/suricata_reader.c ${CMAKE_CURRENT_LIST_DIR}/export_text.c ${CMAKE_CURRENT_LIST_DIR}/fixture_store.c DEPS iocb_export iocb_store)
# Export files rewritten on store changes (export/watch.h).
iocb_unit_test(test_export_watch SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_export_watch.c ${CMAKE_CURRENT_LIST_DIR}/fixture_store.c
               DEPS iocb_export iocb_store)
# Suricata datasets over the unix socket (export/surisock.h), against an in-process socket stand-in (surisock_fake.c).
iocb_unit_test(test_export_surisock SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_export_surisock.c
               ${CMAKE_CURRENT_LIST_DIR}/surisock_fake.c ${CMAKE_CURRENT_LIST_DIR}/fixture_store.c DEPS iocb_export iocb_store)
# The "suricata-iprep" format and its tag rules (exports.md §3.5).
iocb_unit_test(test_export_iprep SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_export_iprep.c
               ${CMAKE_CURRENT_LIST_DIR}/export_text.c ${CMAKE_CURRENT_LIST_DIR}/fixture_store.c DEPS iocb_export iocb_store)
# Zeek removals: meta.remove T tombstones kept between exports and seeded from the old file.
iocb_unit_test(test_export_removals SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_export_removals.c
               ${CMAKE_CURRENT_LIST_DIR}/zeek_reader.c ${CMAKE_CURRENT_LIST_DIR}/fixture_store.c DEPS iocb_export iocb_store)
