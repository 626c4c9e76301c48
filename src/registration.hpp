#pragma once

#include "tcp_server/endpoint.hpp"

namespace tcp_server {

class ConnectionRegistry;

// What the registry asks of a live connection when the server stops. Connection implements it,
// so that the registry need not know Connection (the dependency points one way).
class Drainable {
 public:
  // Finish the message in progress, then close; an idle connection closes now.
  virtual void request_drain() noexcept = 0;
  // The drain's deadline: shutdown(2) with how (SHUT_RD, then SHUT_RDWR).
  virtual void shut_down(int how) noexcept = 0;

 protected:
  ~Drainable() = default;
};

// A connection's place in the registry (ConnectionRegistry::add), held until it is reset or
// destroyed: then the connection leaves the registry (and its --max-per-ip group). Move-only.
// Its holder resets it before closing its socket, so that the drain never shuts down an fd
// number that was reused.
class Registration {
 public:
  Registration() noexcept = default;
  Registration(Registration&& other) noexcept;
  Registration& operator=(Registration&& other) noexcept;
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  ~Registration() { reset(); }

  // Counts the connection against its client's --max-per-ip group, once the real client is
  // known; false (and nothing counted) when that group is full.
  [[nodiscard]] bool admit(const Endpoint& client);
  void reset() noexcept;
  explicit operator bool() const noexcept { return registry_ != nullptr; }

 private:
  friend class ConnectionRegistry;
  Registration(ConnectionRegistry* registry, Drainable* member) noexcept
      : registry_(registry), member_(member) {}

  ConnectionRegistry* registry_ = nullptr;
  Drainable* member_ = nullptr;
};

}  // namespace tcp_server
