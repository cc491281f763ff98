# The Debian package (CPack DEB): `cmake --build --preset release --target package`, or
# `cpack --config build/release/CPackConfig.cmake -B DIR`. What goes where, and why, is in
# deploy/README.md ("Debian package"); tests/integration/ops_package_test.sh builds it and
# checks the file list, the control data and lintian.
#
# Paths are absolute where Debian wants them outside /usr (units under /lib/systemd/system as
# bookworm's debhelper puts them, configuration under /etc), the rest is relative to the
# package prefix /usr.

set(PORTSCAND_PACKAGE_MAINTAINER "portscand maintainers <portscand-maintainers@example.org>"
    CACHE STRING "The Maintainer: field of the Debian package")

set(pkg_dir ${CMAKE_CURRENT_BINARY_DIR}/package)
file(MAKE_DIRECTORY ${pkg_dir})

# Debian wants man pages and changelogs compressed with gzip -9n (no name, no timestamp: the
# bytes must not depend on when the package was built).
add_custom_command(
  OUTPUT ${pkg_dir}/portscand.1.gz
  COMMAND gzip -9n -c ${PORTSCAND_SOURCE_ROOT}/deploy/man/portscand.1 > ${pkg_dir}/portscand.1.gz
  DEPENDS ${PORTSCAND_SOURCE_ROOT}/deploy/man/portscand.1
  VERBATIM)
add_custom_command(
  OUTPUT ${pkg_dir}/changelog.gz
  COMMAND gzip -9n -c ${PORTSCAND_SOURCE_ROOT}/deploy/debian/changelog > ${pkg_dir}/changelog.gz
  DEPENDS ${PORTSCAND_SOURCE_ROOT}/deploy/debian/changelog
  VERBATIM)
add_custom_target(package_docs ALL DEPENDS ${pkg_dir}/portscand.1.gz ${pkg_dir}/changelog.gz)

# The binary itself: daemon/CMakeLists.txt installs it to bin (/usr/bin in the package).
install(FILES ${PORTSCAND_SOURCE_ROOT}/systemd/portscand.service DESTINATION /lib/systemd/system)
# The syslog socket unit is another piece of work; it is packaged when it is in the tree.
if(EXISTS ${PORTSCAND_SOURCE_ROOT}/systemd/portscand.socket)
  install(FILES ${PORTSCAND_SOURCE_ROOT}/systemd/portscand.socket DESTINATION /lib/systemd/system)
endif()
install(FILES ${PORTSCAND_SOURCE_ROOT}/systemd/portscand.sysusers DESTINATION lib/sysusers.d RENAME portscand.conf)
install(FILES ${PORTSCAND_SOURCE_ROOT}/systemd/portscand.tmpfiles DESTINATION lib/tmpfiles.d RENAME portscand.conf)
install(FILES ${PORTSCAND_SOURCE_ROOT}/config/portscand.yaml DESTINATION /etc/portscand)
install(FILES ${PORTSCAND_SOURCE_ROOT}/config/rules/port-scan.yaml
              ${PORTSCAND_SOURCE_ROOT}/config/rules/port-sweep.yaml DESTINATION /etc/portscand/rules)
install(FILES ${pkg_dir}/portscand.1.gz DESTINATION share/man/man1)
install(FILES ${PORTSCAND_SOURCE_ROOT}/README.md DESTINATION share/doc/portscand)
install(FILES ${PORTSCAND_SOURCE_ROOT}/deploy/README.md DESTINATION share/doc/portscand RENAME README.deploy.md)
install(FILES ${PORTSCAND_SOURCE_ROOT}/deploy/debian/copyright DESTINATION share/doc/portscand)
install(FILES ${pkg_dir}/changelog.gz DESTINATION share/doc/portscand)
install(FILES ${PORTSCAND_SOURCE_ROOT}/deploy/grafana/portscand-dashboard.json
        DESTINATION share/doc/portscand/examples/grafana)
install(FILES ${PORTSCAND_SOURCE_ROOT}/deploy/prometheus/portscand-rules.yml
        DESTINATION share/doc/portscand/examples/prometheus)
install(DIRECTORY ${PORTSCAND_SOURCE_ROOT}/deploy/kubernetes/
        DESTINATION share/doc/portscand/examples/kubernetes)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME portscand)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "streaming port-scan detection over network-session logs")
# The extended description, lines under 80 columns (Debian policy 3.4.1).
set(CPACK_PACKAGE_DESCRIPTION [=[portscand implements, as a stream, the Microsoft Sentinel analytic rule
'Port scan detected (ASIM Network Session schema)'. It reads network-session
records from Kafka, syslog and files, counts the distinct destination ports
of each source per 5-minute bin exactly, and publishes one alert per
scanning source and bin to Kafka or a file, with deterministic alert ids.
It runs as a hardened systemd service with Prometheus metrics and
checkpointed window state.]=])
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${PORTSCAND_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# systemd: the unit, and the postinst applies sysusers.d/tmpfiles.d. (runuser and
# deb-systemd-helper come from essential packages: util-linux, init-system-helpers.)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PORTSCAND_SOURCE_ROOT}/deploy/debian/conffiles
    ${PORTSCAND_SOURCE_ROOT}/deploy/debian/postinst
    ${PORTSCAND_SOURCE_ROOT}/deploy/debian/prerm
    ${PORTSCAND_SOURCE_ROOT}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# The binary is stripped in the package (lintian: unstripped-binary-or-object); the build
# tree keeps its symbols for debugging.
set(CPACK_STRIP_FILES ON)
include(CPack)
