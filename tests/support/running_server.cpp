#include "running_server.hpp"

namespace tcp_server::testing {

ServerConfig loopback_config() {
  ServerConfig config;
  config.listen.host = "127.0.0.1";
  config.listen.port = 0;
  return config;
}

RunningServer::RunningServer(ServerConfig config)
    : server_(std::make_unique<Server>(std::move(config), log_.logger())) {
  server_->open();
  thread_ = std::thread([this] {
    try {
      server_->run();
    } catch (...) {
      failure_ = std::current_exception();
    }
  });
}

RunningServer::~RunningServer() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

Endpoint RunningServer::endpoint() const {
  Endpoint bound = server_->local_endpoint();
  const std::string_view bytes = bound.address_bytes();
  if (bytes.find_first_not_of('\0') != std::string_view::npos) return bound;
  auto loopback = Endpoint::from_ip(bound.is_v6() ? "::1" : "127.0.0.1", bound.port());
  return *loopback;
}

void RunningServer::stop_and_join() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
  if (failure_) std::rethrow_exception(failure_);
}

}  // namespace tcp_server::testing
