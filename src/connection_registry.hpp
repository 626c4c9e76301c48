#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "registration.hpp"
#include "tcp_server/endpoint.hpp"

namespace tcp_server {

// Knows every live connection, so that shutdown can find each one and wait for the count to
// reach zero, and counts connections per client address group for --max-per-ip.
// A connection leaves (its Registration is reset) before it closes its fd, and the registry only
// calls a connection under its lock, so a shutdown() can never hit an fd number that was reused.
// Thread safe; outlives every Registration it gives.
class ConnectionRegistry {
 public:
  // on_removed runs (without the lock) after each removal; the server uses it to wake a deferred
  // accept loop.
  ConnectionRegistry(std::size_t max_per_ip, std::function<void()> on_removed);

  // The connection is live until the returned Registration is reset or destroyed.
  [[nodiscard]] Registration add(Drainable& connection);

  [[nodiscard]] std::size_t size() const;

  // Every connection is told to finish; the idle ones are shut down at once.
  void begin_drain();
  // shut_down(how) on every live connection.
  void shut_down_all(int how);
  // True when the registry became empty before the deadline.
  bool wait_until_empty(std::chrono::steady_clock::time_point deadline);

 private:
  friend class Registration;
  bool admit(Drainable* connection, const Endpoint& client);
  void remove(Drainable* connection) noexcept;

  const std::size_t max_per_ip_;
  const std::function<void()> on_removed_;
  mutable std::mutex mutex_;
  std::condition_variable emptied_;
  std::unordered_set<Drainable*> live_;
  std::unordered_map<Drainable*, std::string> group_of_;
  std::unordered_map<std::string, std::size_t> per_group_;
};

// The key under which --max-per-ip counts a client: its IPv4 address, or its IPv6 /64 (one
// host usually owns a whole /64, so counting single IPv6 addresses would be no limit at all).
std::string client_group_key(const Endpoint& client);

}  // namespace tcp_server
