# SPDX-License-Identifier: Apache-2.0
# The Debian package (issue #16 §2): cpack from this build tree, dpkg -x into
# a temporary root, the installed binary run from there (tests/pkg/test_deb.py).
add_test(NAME pkg_deb COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_deb.py)
set_tests_properties(pkg_deb PROPERTIES LABELS e2e TIMEOUT 120
  ENVIRONMENT "IOCB_BUILD_DIR=${CMAKE_BINARY_DIR};IOCB_SOURCE_DIR=${PROJECT_SOURCE_DIR};PYTHONDONTWRITEBYTECODE=1")
