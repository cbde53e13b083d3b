# Turn the status page (IN) into a C file (OUT) defining iocb_http__status_page[]
# and iocb_http__status_page_len (declared in status.h), NUL-terminated.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR n "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" body "${body}")
file(WRITE ${OUT} "/* Generated from status_page.html by embed.cmake: do not edit. */\n#include <stddef.h>\n"
  "extern const char iocb_http__status_page[];\nextern const size_t iocb_http__status_page_len;\n"
  "const char iocb_http__status_page[] = {\n${body}0x00};\n"
  "const size_t iocb_http__status_page_len = ${n};\n")
