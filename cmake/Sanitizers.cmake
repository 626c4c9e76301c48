# TCP_SERVER_SANITIZE: empty, "address,undefined" or "thread". Applied to every target so the
# library, tests and executables agree on instrumentation.
set(TCP_SERVER_SANITIZE "" CACHE STRING "Sanitizers to build with: address,undefined | thread")

if(TCP_SERVER_SANITIZE)
  add_compile_options(-fsanitize=${TCP_SERVER_SANITIZE} -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=${TCP_SERVER_SANITIZE})
  if(TCP_SERVER_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()
