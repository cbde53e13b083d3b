# SPDX-License-Identifier: Apache-2.0
# Installation layout and the Debian package (issue #16 §2). With
# CMAKE_INSTALL_PREFIX=/usr (scripts/package.sh, and CPack's default for DEB)
# `cmake --install` puts:
#   /usr/bin/iocbus
#   /usr/share/man/man1/iocbus.1.gz            docs/iocbus.1 (`iocbus man`)
#   /lib/systemd/system/iocbus.service          contrib/systemd/
#   /etc/iocbus/iocbus.yaml                     a conffile; validates standing alone
#   /usr/share/bash-completion/completions/iocbus  (`iocbus completion bash`)
#   /usr/share/doc/iocbus/                      README, docs/*.md, examples/, contrib/
# Paths outside the prefix (/etc, /lib/systemd) are absolute on purpose:
# that is where Debian expects them whatever the prefix.
include(GNUInstallDirs)
set(IOCB_SYSTEMD_UNIT_DIR "/lib/systemd/system" CACHE PATH "Where the systemd unit is installed")
set(IOCB_SYSCONF_DIR "/etc/iocbus" CACHE PATH "Where the example configuration is installed")

# Debian wants man pages and changelogs compressed, reproducibly (-n: no name or time in the header).
set(IOCB_GZ_DIR ${CMAKE_BINARY_DIR}/gz)
foreach(pair "docs/iocbus.1=iocbus.1.gz" "cmake/debian/changelog=changelog.gz")
  string(REPLACE "=" ";" pair "${pair}")
  list(GET pair 0 src)
  list(GET pair 1 dst)
  add_custom_command(OUTPUT ${IOCB_GZ_DIR}/${dst}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${IOCB_GZ_DIR}
    COMMAND gzip -9nc ${PROJECT_SOURCE_DIR}/${src} > ${IOCB_GZ_DIR}/${dst}
    DEPENDS ${PROJECT_SOURCE_DIR}/${src} VERBATIM)
  list(APPEND IOCB_GZ_FILES ${IOCB_GZ_DIR}/${dst})
endforeach()
add_custom_target(iocbus_gz ALL DEPENDS ${IOCB_GZ_FILES})

install(FILES ${IOCB_GZ_DIR}/iocbus.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES contrib/systemd/iocbus.service DESTINATION ${IOCB_SYSTEMD_UNIT_DIR})
install(FILES contrib/systemd/iocbus.yaml DESTINATION ${IOCB_SYSCONF_DIR})
install(FILES contrib/bash-completion/iocbus DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES README.md cmake/debian/copyright ${IOCB_GZ_DIR}/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING PATTERN "*.md")
install(DIRECTORY examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
# contrib/ as a whole (Suricata, Zeek, ...): the unit, config and completion are installed above, where they act.
install(DIRECTORY contrib/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/contrib
  PATTERN "systemd" EXCLUDE PATTERN "bash-completion" EXCLUDE)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME iocbus)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "iocbus")
set(CPACK_PACKAGE_CONTACT "iocbus maintainers <maintainers@iocbus.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "MISP threat intelligence where detection happens")
set(CPACK_PACKAGE_INSTALL_DIRECTORY /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
# The synopsis is CPACK_PACKAGE_DESCRIPTION_SUMMARY; this is the extended description (CPack indents it).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "iocbus keeps a store of MISP indicators in step with MISP servers (ZeroMQ,
Kafka, the REST API, feeds), filtered by organisation, type and tag, and
matches log events against it: enrichment of log pipelines into
Elasticsearch, Kafka or files, lookups over HTTP and the memcached
protocol, exports for Suricata and Zeek, and a Threat Bus compatible bus.

The package ships a hardened systemd unit (Type=notify, watchdog), a man
page and bash completion.")
# /etc/iocbus/iocbus.yaml is a conffile: an upgrade keeps the local edits.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/cmake/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
