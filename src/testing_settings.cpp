#include "tcp_server/testing_settings.hpp"

namespace tcp_server {

std::vector<std::string> TestingSettings::validate() const {
  std::vector<std::string> problems;
  if (delay.count() < 0) problems.emplace_back("--delay must not be negative");
  if (jitter.count() < 0) problems.emplace_back("--jitter must not be negative");
  if (max_lifetime.count() < 0) problems.emplace_back("--max-lifetime must not be negative");
  // Written so that NaN fails too.
  if (!(drop_rate >= 0 && drop_rate <= 1)) {
    problems.emplace_back("--drop-rate must be between 0 and 1");
  }
  if (!(reset_rate >= 0 && reset_rate <= 1)) {
    problems.emplace_back("--reset-rate must be between 0 and 1");
  }
  return problems;
}

}  // namespace tcp_server
