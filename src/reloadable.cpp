#include "tcp_server/reloadable.hpp"

#include <fmt/format.h>

#include <exception>

#include "tcp_server/log_format.hpp"

namespace tcp_server {
namespace {

// Long enough for a path and a parse error, short enough that a runaway message stays one line.
constexpr std::size_t kMaxDetailBytes = 1024;

}  // namespace

std::vector<ReloadOutcome> Reloader::reload_all() const {
  std::vector<ReloadOutcome> outcomes;
  outcomes.reserve(parts_.size());
  for (const Reloadable& part : parts_) {
    ReloadResult result;
    try {
      result = part.reload ? part.reload() : ReloadResult::failed("nothing to call");
    } catch (const std::exception& error) {
      result = ReloadResult::failed(error.what());
    } catch (...) {
      result = ReloadResult::failed("unknown error");
    }
    outcomes.push_back({part.name, std::move(result)});
  }
  return outcomes;
}

std::string format_reload_outcome(const ReloadOutcome& outcome) {
  return fmt::format("{}: {}: {}", outcome.result.ok ? "reload" : "reload failed", outcome.name,
                     escape_for_log(outcome.result.detail, kMaxDetailBytes));
}

}  // namespace tcp_server
