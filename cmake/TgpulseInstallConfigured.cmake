# Runs at install time (install(SCRIPT) in TgpulseInstall.cmake): writes the files that name install
# paths — the systemd unit, the configuration, the secrets file — for the prefix being installed to.
# The configuration and the secrets file are written only when absent: a reinstall keeps what an
# operator wrote there (the pristine copies are in share/doc/tgpulse/examples/).

function(tgpulse_absolute out rel)
  if(IS_ABSOLUTE "${rel}")
    set(${out} "${rel}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${rel}" PARENT_SCOPE)
  endif()
endfunction()

tgpulse_absolute(TGPULSE_BINDIR "${TGPULSE_BINDIR_REL}")
tgpulse_absolute(TGPULSE_DOCDIR "${TGPULSE_DOCDIR_REL}")
tgpulse_absolute(TGPULSE_PKGLIBDIR "${TGPULSE_PKGLIB_SUBDIR}")
if(IS_ABSOLUTE "${TGPULSE_SYSCONFDIR_REL}")
  set(TGPULSE_CONFDIR "${TGPULSE_SYSCONFDIR_REL}/tgpulse")
elseif(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(TGPULSE_CONFDIR "/etc/tgpulse")
else()
  set(TGPULSE_CONFDIR "${CMAKE_INSTALL_PREFIX}/${TGPULSE_SYSCONFDIR_REL}/tgpulse")
endif()

# One file: configured from the source `in` to `path` (under DESTDIR) with `mode`; KEEP: left alone when
# it exists already.
function(tgpulse_install_configured in path mode)
  cmake_parse_arguments(arg "KEEP" "" "" ${ARGN})
  set(dest "$ENV{DESTDIR}${path}")
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${dest}")
  set(CMAKE_INSTALL_MANIFEST_FILES "${CMAKE_INSTALL_MANIFEST_FILES}" PARENT_SCOPE)
  if(arg_KEEP AND EXISTS "${dest}")
    message(STATUS "Kept: ${dest}")
    return()
  endif()
  message(STATUS "Installing: ${dest}")
  configure_file("${in}" "${dest}" @ONLY FILE_PERMISSIONS ${mode})
endfunction()

set(public OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
set(secret OWNER_READ OWNER_WRITE)
tgpulse_install_configured("${TGPULSE_DEPLOY_DIR}/systemd/tgpulse.service.in"
  "${CMAKE_INSTALL_PREFIX}/lib/systemd/system/tgpulse.service" "${public}")
tgpulse_install_configured("${TGPULSE_DEPLOY_DIR}/systemd/tgpulse.yaml.in"
  "${TGPULSE_CONFDIR}/tgpulse.yaml" "${public}" KEEP)
tgpulse_install_configured("${TGPULSE_DEPLOY_DIR}/systemd/tgpulse.env.example"
  "${TGPULSE_CONFDIR}/tgpulse.env" "${secret}" KEEP)
tgpulse_install_configured("${TGPULSE_DEPLOY_DIR}/systemd/tgpulse.yaml.in"
  "${TGPULSE_DOCDIR}/examples/tgpulse.yaml" "${public}")
tgpulse_install_configured("${TGPULSE_DEPLOY_DIR}/systemd/tgpulse.env.example"
  "${TGPULSE_DOCDIR}/examples/tgpulse.env" "${secret}")
