# osp_warnings: the warning set every target of ours compiles with.
add_library(osp_warnings INTERFACE)
target_compile_options(osp_warnings INTERFACE
  -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wshadow -Wformat=2
  -Wno-missing-field-initializers
  $<$<BOOL:${OSP_WERROR}>:-Werror>)
