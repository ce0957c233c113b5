# Run by `cmake --install` (install(CODE) in CMakeLists.txt): writes the
# systemd unit with the paths of the prefix being installed into, which
# `cmake --install --prefix` may change after configuring, so configure_file
# runs here and not at configure time. Relative directories are under the
# prefix, where install(FILES) puts the program and its config; DESTDIR is
# not part of them (file(INSTALL) adds it).
# In: OSP_UNIT_TEMPLATE, OSP_UNIT_WORKDIR, OSP_UNIT_DEST, OSP_UNIT_BINDIR,
#     OSP_UNIT_SYSCONFDIR, OSP_UNIT_DOCDIR (the CMAKE_INSTALL_* values).
foreach(d BINDIR SYSCONFDIR DOCDIR)
  if(NOT IS_ABSOLUTE "${OSP_UNIT_${d}}")
    set(OSP_UNIT_${d} "${CMAKE_INSTALL_PREFIX}/${OSP_UNIT_${d}}")
  endif()
endforeach()
string(MD5 osp_unit_key "${CMAKE_INSTALL_PREFIX}") # parallel installs elsewhere
set(osp_unit_file "${OSP_UNIT_WORKDIR}/${osp_unit_key}/osprofiler-sidecar.service")
configure_file("${OSP_UNIT_TEMPLATE}" "${osp_unit_file}" @ONLY)
if(NOT IS_ABSOLUTE "${OSP_UNIT_DEST}")
  set(OSP_UNIT_DEST "${CMAKE_INSTALL_PREFIX}/${OSP_UNIT_DEST}")
endif()
file(INSTALL DESTINATION "${OSP_UNIT_DEST}" TYPE FILE FILES "${osp_unit_file}")
