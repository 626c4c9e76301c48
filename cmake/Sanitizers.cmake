# TCP_SERVER_SANITIZE: empty, "address,undefined" or "thread". Applied to every target so the
# library, tests and executables agree on instrumentation.
set(TCP_SERVER_SANITIZE "" CACHE STRING "Sanitizers to build with: address,undefined | thread")

if(TCP_SERVER_SANITIZE)
  add_compile_options(-fsanitize=${TCP_SERVER_SANITIZE} -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=${TCP_SERVER_SANITIZE})
  if(TCP_SERVER_SANITIZE MATCHES "undefined")
    # vptr checks probe memory through pipe(2); out of fds (the fd-exhaustion test does exactly
    # that) every probe fails and UBSan reports valid objects as having an invalid vptr.
    add_compile_options(-fno-sanitize-recover=undefined -fno-sanitize=vptr)
  endif()
endif()
