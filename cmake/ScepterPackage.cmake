# Installation and the Debian package (CPack DEB): `cpack -G DEB` in the build directory
# makes scepter_VERSION_ARCH.deb. Layout (Debian 12): programs in /usr/sbin and /usr/bin,
# the systemd unit in /lib/systemd/system, gzipped man pages, bash completions, docs.
# GNUInstallDirs is included by the top-level CMakeLists.txt.

set(pkg_dir ${PROJECT_SOURCE_DIR}/packaging)

# Debian policy: man pages and long documents compressed with gzip -9n (no name or time
# in the header, so the package is reproducible).
find_program(GZIP_PROGRAM gzip REQUIRED)
set(compressed "")
foreach(page docs/man/scepterd.8 docs/man/scepter.1 README.md docs/user-guide.md docs/shell.md
        docs/decisions.md docs/life-cycle.md docs/policy.md docs/scale-out.md
        docs/performance.md)
  get_filename_component(name ${page} NAME)
  set(out ${PROJECT_BINARY_DIR}/package/${name}.gz)
  add_custom_command(OUTPUT ${out}
                     COMMAND ${GZIP_PROGRAM} -9n -c ${PROJECT_SOURCE_DIR}/${page} > ${out}
                     DEPENDS ${PROJECT_SOURCE_DIR}/${page} VERBATIM)
  list(APPEND compressed ${out})
endforeach()
file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/package)
add_custom_target(package_files ALL DEPENDS ${compressed})

install(FILES ${PROJECT_BINARY_DIR}/package/scepterd.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${PROJECT_BINARY_DIR}/package/scepter.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
foreach(doc README.md user-guide.md shell.md decisions.md life-cycle.md policy.md scale-out.md
        performance.md)
  install(FILES ${PROJECT_BINARY_DIR}/package/${doc}.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})
endforeach()
install(FILES ${pkg_dir}/completions/scepter ${pkg_dir}/completions/scepterd
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
# Debian 12 keeps units in /lib/systemd/system (not yet /usr/lib): an absolute path, so
# CPack installs with DESTDIR (CPACK_SET_DESTDIR below).
install(FILES ${pkg_dir}/scepterd.service DESTINATION /lib/systemd/system)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME scepter)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "Scepter")
set(CPACK_PACKAGE_CONTACT "Scepter developers <developers@scepter.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "certificate server with the Cisco IOS command line")
set(CPACK_PACKAGE_DESCRIPTION
    "Scepter does what the Cisco IOS certificate server (crypto pki server) does, with the\n"
    "same commands: root CAs, subordinate CAs and RAs that real SCEP clients enrol\n"
    "against, with EST, OCSP, CRLs, automatic rollover, an audit log and Prometheus\n"
    "metrics. scepterd is the daemon (a systemd service), scepter its IOS-style shell.")
string(REPLACE ";" "" CPACK_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# With DESTDIR, CPack installs under CPACK_INSTALL_PREFIX, not CMAKE_INSTALL_PREFIX.
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# groupadd, useradd (postinst) and userdel (postrm).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "softhsm2, opensc")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${pkg_dir}/postinst ${pkg_dir}/prerm ${pkg_dir}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
