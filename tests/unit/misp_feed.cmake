# SPDX-License-Identifier: Apache-2.0
# MISP feeds (src/misp/feed.c): the manifest parser and the feed-directory walker.
# realloc and free are wrapped so the test can make a growth fail (see the test).
iocb_unit_test(test_misp_feed SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_misp_feed.c DEPS iocb_misp)
target_link_options(test_misp_feed PRIVATE -Wl,--wrap=realloc -Wl,--wrap=free)
