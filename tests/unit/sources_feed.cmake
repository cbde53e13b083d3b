# Feed source (src/sources/feed.c): manifest index through src/sources/internal.h,
# and the source itself on a local feed directory.
iocb_unit_test(test_sources_feed SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sources_feed.c DEPS iocb_sources)
