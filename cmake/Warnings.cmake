# Warnings for our own targets only (never for third-party headers).
option(TCP_SERVER_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" OFF)

function(tcp_server_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                           -Wno-sign-conversion)
  if(TCP_SERVER_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
