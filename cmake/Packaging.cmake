# Man pages (help2man, from each binary's --help), installed files, and a .deb via CPack.
find_program(HELP2MAN help2man)
if(HELP2MAN)
  foreach(program tcp_server tcp_client)
    if(program STREQUAL "tcp_server")
      set(summary "thread-per-connection TCP echo/ack server")
    else()
      set(summary "concurrent clients, interactive chat and load generation for TCP servers")
    endif()
    add_custom_command(
      OUTPUT "${PROJECT_BINARY_DIR}/man/${program}.1"
      COMMAND "${CMAKE_COMMAND}" -E make_directory "${PROJECT_BINARY_DIR}/man"
      COMMAND "${HELP2MAN}" --no-info --no-discard-stderr --name "${summary}"
              --output "${PROJECT_BINARY_DIR}/man/${program}.1" "$<TARGET_FILE:${program}>"
      DEPENDS ${program}
      COMMENT "man page for ${program}"
      VERBATIM)
    list(APPEND TCP_SERVER_MAN_PAGES "${PROJECT_BINARY_DIR}/man/${program}.1")
  endforeach()
  add_custom_target(man_pages ALL DEPENDS ${TCP_SERVER_MAN_PAGES})
  install(FILES ${TCP_SERVER_MAN_PAGES} DESTINATION "${CMAKE_INSTALL_MANDIR}/man1")
else()
  message(STATUS "help2man not found: no man pages (scripts/setup --test installs it)")
endif()

# systemd looks in /usr/lib/systemd/system as well as /lib (merged /usr on Debian 12).
install(FILES packaging/systemd/tcp_server.service packaging/systemd/tcp_server.socket
        DESTINATION lib/systemd/system)
install(FILES README.md LICENSE docs/deploy.md docs/benchmarks.md
        DESTINATION "${CMAKE_INSTALL_DOCDIR}")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tcp-server)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}, and tcp_client")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "tcp_server maintainers <tcp-server@example.invalid>")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# Written out rather than computed by dpkg-shlibdeps, so building the package needs no dpkg-dev;
# these are exactly the shared libraries the binaries link (see ldd).
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6 (>= 2.36), libstdc++6 (>= 12), libgcc-s1, libspdlog1.10 (>= 1:1.10.0), \
libfmt9 (>= 9.1.0), libre2-9 (>= 20220601)")
include(CPack)
