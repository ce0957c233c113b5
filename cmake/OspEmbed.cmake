# osp_embed_text(INPUT OUTPUT SYMBOL): at build time, turn the text file INPUT
# into a C source OUTPUT defining `const char SYMBOL[]` (NUL-terminated) and
# `const size_t SYMBOL_len`. Hex bytes: no escaping issues, no line limits.
if(CMAKE_SCRIPT_MODE_FILE) # running as: cmake -DIN= -DOUT= -DSYM= -P OspEmbed.cmake
  file(READ "${IN}" hex HEX)
  string(LENGTH "${hex}" n)
  math(EXPR len "${n} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n" bytes "${bytes}")
  file(WRITE "${OUT}" "/* generated from ${IN} by cmake/OspEmbed.cmake */\n"
    "#include <stddef.h>\nconst char ${SYM}[] = {\n${bytes}0x00};\n"
    "const size_t ${SYM}_len = ${len};\n")
  return()
endif()

function(osp_embed_text input output symbol)
  add_custom_command(OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -DIN=${input} -DOUT=${output} -DSYM=${symbol}
            -P ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/OspEmbed.cmake
    DEPENDS ${input} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/OspEmbed.cmake
    COMMENT "Embedding ${input}" VERBATIM)
endfunction()
