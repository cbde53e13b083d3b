# Suricata unix-command socket double (exports.md §3.3) and its self-test (issue #14).
# Needs only /usr/bin/python3 (standard library).
add_test(NAME test_suricata_sock
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_suricata_sock.py)
set_tests_properties(test_suricata_sock PROPERTIES LABELS e2e TIMEOUT 60)
