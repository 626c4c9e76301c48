# Man pages (help2man, from each binary's --help), the example configuration file and the
# installed files. The .deb is built from debian/ (debhelper), which runs this install.
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

# systemd looks in /usr/lib/systemd/system as well as /lib (merged /usr on Debian 12). Debian 12's
# debhelper and lintian expect /lib/systemd/system, which debian/rules asks for.
set(TCP_SERVER_SYSTEMD_UNIT_DIR lib/systemd/system
    CACHE STRING "Where the systemd units are installed (relative: under the prefix)")
install(FILES packaging/systemd/tcp_server.service packaging/systemd/tcp_server.socket
        DESTINATION "${TCP_SERVER_SYSTEMD_UNIT_DIR}")
# The example configuration, written by tcp_server --print-config itself so that it always lists
# every option with its current default; it sets what tcp_server.service passes when there is
# no file, so installing it changes nothing.
set(TCP_SERVER_CONFIG_EXAMPLE "${PROJECT_BINARY_DIR}/tcp_server.toml")
add_custom_command(
  OUTPUT "${TCP_SERVER_CONFIG_EXAMPLE}"
  COMMAND "${CMAKE_COMMAND}" "-DTCP_SERVER=$<TARGET_FILE:tcp_server>"
          "-DOUTPUT=${TCP_SERVER_CONFIG_EXAMPLE}" -P "${PROJECT_SOURCE_DIR}/cmake/WriteConfigExample.cmake"
  DEPENDS tcp_server "${PROJECT_SOURCE_DIR}/cmake/WriteConfigExample.cmake"
  COMMENT "example configuration file"
  VERBATIM)
add_custom_target(config_example ALL DEPENDS "${TCP_SERVER_CONFIG_EXAMPLE}")
install(FILES "${TCP_SERVER_CONFIG_EXAMPLE}" DESTINATION "${CMAKE_INSTALL_FULL_SYSCONFDIR}/tcp_server")

install(FILES README.md LICENSE docs/deploy.md docs/benchmarks.md
        DESTINATION "${CMAKE_INSTALL_DOCDIR}")
