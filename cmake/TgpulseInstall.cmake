# `cmake --install` rules: the service, the simulator, the systemd unit, an example configuration, the
# docs and the monitoring files. Layout (under the prefix; docs/deployment.md):
#   bin/tgpulse                              the service
#   lib/tgpulse/libtdsim.so, libtdjson.so    the simulator; the real TDLib when scripts/install-deps.sh fetched it
#   lib/systemd/system/tgpulse.service       the unit, with the paths of this install filled in
#   <sysconfdir>/tgpulse/tgpulse.yaml        the configuration (not overwritten once there)
#   <sysconfdir>/tgpulse/tgpulse.env         secrets, mode 0600 (not overwritten once there)
#   share/doc/tgpulse/                       README, docs/, examples/ (the same two files, pristine)
#   share/tgpulse/prometheus/rules/, share/tgpulse/grafana/dashboards/, share/tgpulse/alertmanager/
# <sysconfdir> is /etc for the prefix /usr, <prefix>/etc otherwise (or CMAKE_INSTALL_SYSCONFDIR when
# absolute). Paths are resolved when installing, so `cmake --install build --prefix DIR` is consistent.
include(GNUInstallDirs)

set(TGPULSE_PKGLIB_SUBDIR lib/tgpulse)
set(TGPULSE_DEPLOY_DIR ${CMAKE_SOURCE_DIR}/deploy)

install(TARGETS tgpulse RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET tdsim)
  install(TARGETS tdsim LIBRARY DESTINATION ${TGPULSE_PKGLIB_SUBDIR})
endif()
# The real TDLib is never committed; it is installed when it was fetched (scripts/install-deps.sh).
install(FILES ${CMAKE_SOURCE_DIR}/third_party/tdlib/libtdjson.so DESTINATION ${TGPULSE_PKGLIB_SUBDIR} OPTIONAL)

install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${TGPULSE_DEPLOY_DIR}/prometheus/rules DESTINATION ${CMAKE_INSTALL_DATADIR}/tgpulse/prometheus)
install(DIRECTORY ${TGPULSE_DEPLOY_DIR}/grafana/dashboards DESTINATION ${CMAKE_INSTALL_DATADIR}/tgpulse/grafana)
install(FILES ${TGPULSE_DEPLOY_DIR}/alertmanager/alertmanager.yml DESTINATION ${CMAKE_INSTALL_DATADIR}/tgpulse/alertmanager)

# The unit and the configuration name install paths, so they are written when installing.
install(CODE "
  set(TGPULSE_DEPLOY_DIR \"${TGPULSE_DEPLOY_DIR}\")
  set(TGPULSE_BINDIR_REL \"${CMAKE_INSTALL_BINDIR}\")
  set(TGPULSE_SYSCONFDIR_REL \"${CMAKE_INSTALL_SYSCONFDIR}\")
  set(TGPULSE_DOCDIR_REL \"${CMAKE_INSTALL_DOCDIR}\")
  set(TGPULSE_PKGLIB_SUBDIR \"${TGPULSE_PKGLIB_SUBDIR}\")")
install(SCRIPT ${CMAKE_SOURCE_DIR}/cmake/TgpulseInstallConfigured.cmake)
