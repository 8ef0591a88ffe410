# SPDX-License-Identifier: MIT
#
# packaging/cpack.cmake - `cpack -G DEB`: one package, statusbus, with its
# library dependencies found by dpkg-shlibdeps, a postinst that makes the
# statusbus user and the JWT secret, and the config as a conffile (an
# admin's edits survive upgrades).  scripts/package.sh builds it.

set(SB_DEB_CONTROL ${CMAKE_BINARY_DIR}/packaging/debian)
configure_file(${CMAKE_SOURCE_DIR}/packaging/debian/conffiles.in ${SB_DEB_CONTROL}/conffiles @ONLY)
foreach(script postinst prerm postrm)
  file(COPY ${CMAKE_SOURCE_DIR}/packaging/debian/${script} DESTINATION ${SB_DEB_CONTROL}
    FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
    WORLD_READ WORLD_EXECUTE)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME statusbus)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR statusbus)
set(CPACK_PACKAGE_CONTACT "statusbus maintainers <statusbus@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "real-time status bus: MQTT (Mosquitto) to WebSocket and HTTP bridge")
set(CPACK_PACKAGE_DESCRIPTION
  "statusbus-bridge carries status events and deploy logs published over MQTT to browsers over WebSocket (statusbus.v1, Pusher protocol 7) and HTTP, with JWT access control, the last-known status of every resource and batching of high-rate logs. Also statusbus-token, statusbus-publish, the dashboard, the browser client and the broker scripts.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# adduser for postinst, procps for the unit's ExecReload (/bin/kill), lws's
# libev plugin for the epoll loop (loaded at run time: no shlibdeps sees it)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, procps, libwebsockets-evlib-ev")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "mosquitto")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${SB_DEB_CONTROL}/postinst ${SB_DEB_CONTROL}/prerm ${SB_DEB_CONTROL}/postrm
  ${SB_DEB_CONTROL}/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
