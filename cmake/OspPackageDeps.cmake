# osp_private_link_deps(TARGET <t> PUBLIC <items...> PC_OUT <var> CMAKE_OUT <var>)
#
# What a consumer of the installed static library must link besides it,
# derived from <t>'s own link line so the install files cannot drift from it:
#   PC_OUT     the flags for osprofiler.pc's Libs.private (-L/-l, no .pc file
#              needed: pkg-config checks every Requires.private module even
#              for a shared link, and our headers use none of them)
#   CMAKE_OUT  the CMake code osprofiler-config.cmake runs to find them
#              quietly; it sets _osp_static_missing to what it did not find.
# PUBLIC items (jansson: osprofiler.h includes it) are skipped; they are in
# Requires and found unconditionally. An imported target this function does
# not know is an error, so a new dependency is not silently left out.
function(osp_private_link_deps)
  cmake_parse_arguments(A "" "TARGET;PC_OUT;CMAKE_OUT" "PUBLIC" ${ARGN})
  get_target_property(items ${A_TARGET} LINK_LIBRARIES)
  set(flags "")
  set(code "set(_osp_static_missing \"\")\n")
  foreach(item IN LISTS items)
    if(item MATCHES "^\\$<" OR item IN_LIST A_PUBLIC)
      continue() # build-only ($<BUILD_INTERFACE:...>) or public
    endif()
    if(item MATCHES "^PkgConfig::(.+)$")
      set(prefix ${CMAKE_MATCH_1})
      foreach(f IN LISTS ${prefix}_LDFLAGS)
        if(f MATCHES "^-L(.*)$" AND CMAKE_MATCH_1 IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
          continue() # the linker searches there anyway
        endif()
        list(APPEND flags "${f}")
      endforeach()
      string(APPEND code
        "pkg_check_modules(${prefix} QUIET IMPORTED_TARGET ${${prefix}_MODULE_NAME})\n")
    elseif(item STREQUAL "OpenSSL::Crypto")
      get_filename_component(dir "${OPENSSL_CRYPTO_LIBRARY}" DIRECTORY)
      get_filename_component(name "${OPENSSL_CRYPTO_LIBRARY}" NAME_WE)
      if(NOT dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
        list(APPEND flags "-L${dir}")
      endif()
      string(REGEX REPLACE "^lib" "-l" name "${name}")
      list(APPEND flags "${name}")
      string(APPEND code "find_package(OpenSSL ${OPENSSL_VERSION_MAJOR} QUIET COMPONENTS Crypto)\n")
    elseif(item STREQUAL "Threads::Threads")
      list(APPEND flags ${CMAKE_THREAD_LIBS_INIT}) # empty where libc has pthreads
      string(APPEND code "find_package(Threads QUIET)\n")
    elseif(item MATCHES "::")
      message(FATAL_ERROR "osp_private_link_deps: ${A_TARGET} links ${item}; "
        "say in cmake/OspPackageDeps.cmake how a consumer finds it")
    else()
      list(APPEND flags "-l${item}") # a plain system library (m, dl)
      continue()
    endif()
    string(APPEND code
      "if(NOT TARGET ${item})\n  list(APPEND _osp_static_missing ${item})\nendif()\n")
  endforeach()
  list(REMOVE_DUPLICATES flags)
  list(JOIN flags " " flags)
  set(${A_PC_OUT} "${flags}" PARENT_SCOPE)
  set(${A_CMAKE_OUT} "${code}" PARENT_SCOPE)
endfunction()
