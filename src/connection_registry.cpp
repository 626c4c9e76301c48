#include "connection_registry.hpp"

#include <utility>

namespace tcp_server {

std::string client_group_key(const Endpoint& client) {
  const std::string_view bytes = client.address_bytes();
  if (client.is_v6()) return "6/" + std::string(bytes.substr(0, 8));
  return "4/" + std::string(bytes);
}

Registration::Registration(Registration&& other) noexcept
    : registry_(std::exchange(other.registry_, nullptr)),
      member_(std::exchange(other.member_, nullptr)) {}

Registration& Registration::operator=(Registration&& other) noexcept {
  if (this != &other) {
    reset();
    registry_ = std::exchange(other.registry_, nullptr);
    member_ = std::exchange(other.member_, nullptr);
  }
  return *this;
}

bool Registration::admit(const Endpoint& client) {
  return registry_ == nullptr || registry_->admit(member_, client);
}

void Registration::reset() noexcept {
  if (registry_ == nullptr) return;
  std::exchange(registry_, nullptr)->remove(std::exchange(member_, nullptr));
}

ConnectionRegistry::ConnectionRegistry(std::size_t max_per_ip, std::function<void()> on_removed)
    : max_per_ip_(max_per_ip), on_removed_(std::move(on_removed)) {}

Registration ConnectionRegistry::add(Drainable& connection) {
  std::lock_guard lock(mutex_);
  live_.insert(&connection);
  return Registration(this, &connection);
}

bool ConnectionRegistry::admit(Drainable* connection, const Endpoint& client) {
  if (max_per_ip_ == 0) return true;
  std::string key = client_group_key(client);
  std::lock_guard lock(mutex_);
  std::size_t& count = per_group_[key];
  if (count >= max_per_ip_) return false;
  ++count;
  group_of_.emplace(connection, std::move(key));
  return true;
}

void ConnectionRegistry::remove(Drainable* connection) noexcept {
  {
    std::lock_guard lock(mutex_);
    live_.erase(connection);
    if (const auto group = group_of_.find(connection); group != group_of_.end()) {
      if (const auto count = per_group_.find(group->second); count != per_group_.end()) {
        if (--count->second == 0) per_group_.erase(count);
      }
      group_of_.erase(group);
    }
    if (live_.empty()) emptied_.notify_all();
  }
  if (on_removed_) on_removed_();
}

std::size_t ConnectionRegistry::size() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

void ConnectionRegistry::begin_drain() {
  std::lock_guard lock(mutex_);
  for (Drainable* connection : live_) connection->request_drain();
}

void ConnectionRegistry::shut_down_all(int how) {
  std::lock_guard lock(mutex_);
  for (Drainable* connection : live_) connection->shut_down(how);
}

bool ConnectionRegistry::wait_until_empty(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return emptied_.wait_until(lock, deadline, [&] { return live_.empty(); });
}

}  // namespace tcp_server
