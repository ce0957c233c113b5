# The HTML report template, embedded into the osprofiler command.
# (placeholder until the template lands: a stub that fails with ENOSYS)
file(WRITE ${CMAKE_BINARY_DIR}/report_html_stub.c
  "#include <errno.h>\n#include <stdio.h>\n#include \"cli/report_html.h\"\n"
  "int osp_report_html_write(FILE *o, const char *j, size_t n) {\n"
  "    (void)o, (void)j, (void)n;\n    errno = ENOSYS;\n    return -1;\n}\n")
set(OSP_REPORT_HTML_SOURCES ${CMAKE_BINARY_DIR}/report_html_stub.c)
