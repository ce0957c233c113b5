# The HTML report template (src/cli/report.html), embedded into the
# osprofiler command at build time.
include(OspEmbed)
osp_embed_text(${CMAKE_CURRENT_SOURCE_DIR}/src/cli/report.html
  ${CMAKE_CURRENT_BINARY_DIR}/report_template.c osp_report_template)
set(OSP_REPORT_HTML_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/src/cli/report_html.c
  ${CMAKE_CURRENT_BINARY_DIR}/report_template.c)
