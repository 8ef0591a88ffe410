# SPDX-License-Identifier: MIT
#
# packaging/install.cmake - what `cmake --install` and the .deb put where
# (GNUInstallDirs, FHS): programs in bin (not the benchmark), the config in
# SYSCONFDIR/statusbus with absolute paths into DATADIR/statusbus (schemas,
# dashboard, statusbus.js, broker templates and scripts), the systemd unit,
# man pages and the docs.  A package is built from a tree configured with
# -DCMAKE_INSTALL_PREFIX=/usr (scripts/package.sh), so that those absolute
# paths are /etc/statusbus and /usr/share/statusbus.

set(SB_SHAREDIR ${CMAKE_INSTALL_FULL_DATADIR}/statusbus)
set(SB_CONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/statusbus)
set(SB_DOCDIR ${CMAKE_INSTALL_FULL_DOCDIR})
set(SB_BINDIR ${CMAKE_INSTALL_FULL_BINDIR})
set(SB_SYSTEMD_UNITDIR "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" CACHE PATH
  "where statusbus-bridge.service is installed")

# --genconfig's last resort when it finds no schemas next to itself
target_compile_definitions(statusbus-bridge PRIVATE SB_INSTALL_DATADIR="${SB_SHAREDIR}")

set(SB_PKG_OUT ${CMAKE_BINARY_DIR}/packaging)
configure_file(${CMAKE_SOURCE_DIR}/packaging/bridge.json.in ${SB_PKG_OUT}/bridge.json @ONLY)
configure_file(${CMAKE_SOURCE_DIR}/packaging/statusbus-bridge.service.in
  ${SB_PKG_OUT}/statusbus-bridge.service @ONLY)

install(FILES ${SB_PKG_OUT}/bridge.json DESTINATION ${SB_CONFDIR})
install(FILES ${SB_PKG_OUT}/statusbus-bridge.service DESTINATION ${SB_SYSTEMD_UNITDIR})

install(DIRECTORY ${CMAKE_SOURCE_DIR}/schemas/ DESTINATION ${SB_SHAREDIR}/schemas)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/broker-conf/ DESTINATION ${SB_SHAREDIR}/broker-conf)
file(GLOB SB_BROKER_SCRIPTS ${CMAKE_SOURCE_DIR}/scripts/broker-*.sh)
install(PROGRAMS ${SB_BROKER_SCRIPTS} DESTINATION ${SB_SHAREDIR}/scripts)
# the browser client, once; the dashboard's vendor/statusbus.js (a symlink
# to clients/js in the tree) points at it
install(FILES ${CMAKE_SOURCE_DIR}/clients/js/statusbus.js ${CMAKE_SOURCE_DIR}/clients/js/statusbus.d.ts
  DESTINATION ${SB_SHAREDIR}/js)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/examples/dashboard/ DESTINATION ${SB_SHAREDIR}/dashboard
  PATTERN vendor EXCLUDE)
install(CODE "
  file(MAKE_DIRECTORY \"\$ENV{DESTDIR}${SB_SHAREDIR}/dashboard/vendor\")
  file(CREATE_LINK ../../js/statusbus.js \"\$ENV{DESTDIR}${SB_SHAREDIR}/dashboard/vendor/statusbus.js\" SYMBOLIC)
")

# man pages, compressed as Debian wants them (gzip -n: reproducible)
find_program(SB_GZIP gzip REQUIRED)
set(SB_MAN_GZ)
foreach(page statusbus-bridge.8 statusbus-token.1 statusbus-publish.1)
  configure_file(${CMAKE_SOURCE_DIR}/packaging/man/${page}.in ${SB_PKG_OUT}/man/${page} @ONLY)
  add_custom_command(OUTPUT ${SB_PKG_OUT}/man/${page}.gz
    COMMAND ${SB_GZIP} -9nc ${SB_PKG_OUT}/man/${page} > ${SB_PKG_OUT}/man/${page}.gz
    DEPENDS ${SB_PKG_OUT}/man/${page} ${CMAKE_SOURCE_DIR}/packaging/man/${page}.in VERBATIM)
  list(APPEND SB_MAN_GZ ${SB_PKG_OUT}/man/${page}.gz)
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" sect ${page})
  install(FILES ${SB_PKG_OUT}/man/${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${sect})
endforeach()
add_custom_target(sb_man ALL DEPENDS ${SB_MAN_GZ})

install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs
  FILES_MATCHING PATTERN "*.md")
