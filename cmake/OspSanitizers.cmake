# OSP_SANITIZE=address,undefined or thread: applied to every target.
if(OSP_SANITIZE)
  add_compile_options(-fsanitize=${OSP_SANITIZE} -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${OSP_SANITIZE})
endif()
