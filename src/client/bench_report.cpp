#include "bench_report.hpp"

#include <fmt/format.h>

namespace tcp_server::client {
namespace {

const char* mode_name(BenchMode mode) {
  switch (mode) {
    case BenchMode::kPingpong:
      return "pingpong";
    case BenchMode::kChurn:
      return "churn";
    case BenchMode::kHold:
      return "hold";
  }
  return "?";
}

}  // namespace

std::string format_milliseconds(std::chrono::nanoseconds value) {
  return fmt::format("{:.3f} ms", static_cast<double>(value.count()) / 1e6);
}

std::string format_summary(const BenchOptions& options, const BenchResult& result) {
  std::string out;
  switch (options.mode) {
    case BenchMode::kPingpong:
      out += fmt::format("pingpong {}: {} connections, pipeline {}, {:.2f} s\n", result.server,
                         options.connections, options.pipeline, result.seconds);
      out += fmt::format("  {} replies, {:.0f} replies/s\n", result.replies,
                         static_cast<double>(result.replies) / result.seconds);
      break;
    case BenchMode::kChurn:
      out += fmt::format("churn {}: concurrency {}, {:.2f} s\n", result.server, options.concurrency,
                         result.seconds);
      out += fmt::format("  {} connections, {:.0f} connections/s\n", result.connections,
                         static_cast<double>(result.connections) / result.seconds);
      break;
    case BenchMode::kHold:
      out +=
          fmt::format("hold {}: {} connections held {:.1f} s\n", result.server, options.connections,
                      std::chrono::duration<double>(options.hold_time).count());
      out += fmt::format("  {} connected, {} answered afterwards\n", result.connections,
                         result.answered);
      break;
  }
  if (options.tls.enabled) {
    out += fmt::format("  TLS: {} handshakes, {} resumed{}\n", result.handshakes, result.resumed,
                       options.tls.resume ? "" : " (--tls-resume not given)");
  }
  const auto& e = result.errors;
  out += fmt::format(
      "  errors {} (refused {}, reset {}, closed {}, timeout {}, wrong reply {}, tls {}, other "
      "{})\n",
      e.total(), e.refused, e.reset, e.closed, e.timeout, e.wrong_reply, e.tls, e.other);
  if (!result.first_tls_error.empty()) {
    out += fmt::format("  first TLS error: {}\n", result.first_tls_error);
  }
  const auto& h = result.latency;
  out += fmt::format("  latency p50 {}, p90 {}, p99 {}, p99.9 {}, max {}\n",
                     format_milliseconds(h.quantile(0.5)), format_milliseconds(h.quantile(0.9)),
                     format_milliseconds(h.quantile(0.99)), format_milliseconds(h.quantile(0.999)),
                     format_milliseconds(h.max()));
  return out;
}

std::string format_json(const BenchOptions& options, const BenchResult& result) {
  const auto us = [](std::chrono::nanoseconds value) {
    return static_cast<double>(value.count()) / 1e3;
  };
  const auto& e = result.errors;
  const auto& h = result.latency;
  const double rate =
      static_cast<double>(options.mode == BenchMode::kChurn ? result.connections : result.replies) /
      result.seconds;
  return fmt::format(
      R"({{"mode":"{}","server":"{}","connections":{},"pipeline":{},"concurrency":{},)"
      R"("threads":{},"seconds":{:.3f},"replies":{},"connections_completed":{},)"
      R"("answered":{},"rate":{:.1f},"tls":{},"handshakes":{},"resumed":{},)"
      R"("errors":{{"total":{},"refused":{},"reset":{},)"
      R"("closed":{},"timeout":{},"wrong_reply":{},"tls":{},"other":{}}},)"
      R"("latency_us":{{"p50":{:.1f},"p90":{:.1f},"p99":{:.1f},"p999":{:.1f},"max":{:.1f}}}}})"
      "\n",
      mode_name(options.mode), result.server, options.connections, options.pipeline,
      options.concurrency, options.threads, result.seconds, result.replies, result.connections,
      result.answered, rate, options.tls.enabled, result.handshakes, result.resumed, e.total(),
      e.refused, e.reset, e.closed, e.timeout, e.wrong_reply, e.tls, e.other, us(h.quantile(0.5)),
      us(h.quantile(0.9)), us(h.quantile(0.99)), us(h.quantile(0.999)), us(h.max()));
}

}  // namespace tcp_server::client
