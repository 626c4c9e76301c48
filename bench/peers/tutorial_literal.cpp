// The tutorial translated literally to C++: a detached std::thread per client, blocking
// recv(1024), print to stdout, send the reply. No framing, no limits, no shutdown: the baseline
// tcp_server is measured against.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 9003;
  const int server = socket(AF_INET, SOCK_STREAM, 0);
  const int on = 1;
  setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(server, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(server, 128) != 0) {
    perror("bind/listen");
    return 1;
  }
  socklen_t length = sizeof address;
  getsockname(server, reinterpret_cast<sockaddr*>(&address), &length);
  std::cout << "listening on 127.0.0.1:" << ntohs(address.sin_port) << std::endl;
  for (;;) {
    sockaddr_in peer{};
    socklen_t peer_length = sizeof peer;
    const int client = accept(server, reinterpret_cast<sockaddr*>(&peer), &peer_length);
    if (client < 0) continue;
    std::thread([client, peer] {
      char buffer[1024];
      const std::string who =
          std::string(inet_ntoa(peer.sin_addr)) + ":" + std::to_string(ntohs(peer.sin_port));
      for (;;) {
        const ssize_t n = recv(client, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        std::cout << who << " " << std::string(buffer, static_cast<size_t>(n)) << std::endl;
        send(client, "+PONG\r\n", 7, MSG_NOSIGNAL);
      }
      close(client);
    }).detach();
  }
}
