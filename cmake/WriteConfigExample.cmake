# cmake -DTCP_SERVER=path/to/tcp_server -DOUTPUT=tcp_server.toml -P WriteConfigExample.cmake
# Writes the example /etc/tcp_server/tcp_server.toml: a header, then what --print-config prints
# with the settings tcp_server.service uses when there is no file.
execute_process(
  COMMAND "${TCP_SERVER}" --quiet --idle-timeout 10m --drain-timeout 10s --print-config
  OUTPUT_VARIABLE printed
  RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${TCP_SERVER} --print-config failed: ${status}")
endif()
file(WRITE "${OUTPUT}"
     "# /etc/tcp_server/tcp_server.toml: tcp_server.service runs `tcp_server --config` with this\n"
     "# file when it exists (and with the three settings below when it does not). After a change:\n"
     "#   tcp_server --config /etc/tcp_server/tcp_server.toml --print-config  # checks it\n"
     "#   systemctl restart tcp_server.service\n"
     "# The listening address comes from tcp_server.socket (ListenStream=): host and port here\n"
     "# are ignored under socket activation.\n"
     "#\n"
     "${printed}")
