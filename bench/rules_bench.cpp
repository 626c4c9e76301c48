// How long --rules takes per message, and whether a warm match allocates:
//   cmake --build build/release --target rules_bench && build/release/bench/rules_bench
// - a 64 KiB line against (a+)+$, the pattern that is exponential for a backtracking engine,
//   with and without a capture (RE2's DFA alone, then its submatch engines);
// - a short message through 20 rules, the last one matching (the cost --rules adds to a
//   pingpong message);
// - std::regex on the same pattern against n 'a's and a 'b', for contrast: each 'a' doubles it.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <regex>
#include <string>

#include "tcp_server/rules.hpp"

namespace {

// Every operator new in the process, to count what a match allocates.
std::atomic<long> allocations{0};

using Clock = std::chrono::steady_clock;

// The fastest of `runs` batches of `per_batch` matches, in nanoseconds per match; also the
// allocations per match over all of them.
template <typename Match>
void measure(const char* name, int runs, int per_batch, Match&& match) {
  match();  // warm: RE2 builds its DFA states lazily, the reply buffer grows once
  double best = 1e300;
  const long allocations_before = allocations.load();
  for (int run = 0; run < runs; ++run) {
    const auto start = Clock::now();
    for (int i = 0; i < per_batch; ++i) match();
    const std::chrono::duration<double, std::nano> took = Clock::now() - start;
    best = std::min(best, took.count() / per_batch);
  }
  const double allocated =
      static_cast<double>(allocations.load() - allocations_before) / (runs * per_batch);
  if (best >= 1e6) {
    std::printf("%-58s %10.3f ms/match  %.2f allocations/match\n", name, best / 1e6, allocated);
  } else {
    std::printf("%-58s %10.0f ns/match  %.2f allocations/match\n", name, best, allocated);
  }
}

tcp_server::RuleSet rules_of(const std::string& text) {
  return tcp_server::RuleSet::parse(text, "bench.rules", tcp_server::TextEncoding());
}

}  // namespace

void* operator new(std::size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
  throw std::bad_alloc();
}
void operator delete(void* memory) noexcept {
  std::free(memory);
}
void operator delete(void* memory, std::size_t) noexcept {
  std::free(memory);
}

int main() {
  std::string reply;
  reply.reserve(256 * 1024);
  const std::string line(64 * 1024, 'a');
  const std::string line_b = line + "b";

  const auto no_capture = rules_of("(a+)+$ => all a\n");
  measure("64 KiB of 'a' against (a+)+$, no capture", 5, 20,
          [&] { (void)no_capture.match(line, 1, "peer", reply); });
  measure("64 KiB of 'a' + 'b' against (a+)+$ (no match)", 5, 20,
          [&] { (void)no_capture.match(line_b, 1, "peer", reply); });
  const auto capture = rules_of("(a+)+$ => $1\n");
  measure("64 KiB of 'a' against (a+)+$ => $1 (capture)", 5, 20,
          [&] { (void)capture.match(line, 1, "peer", reply); });

  std::string twenty;
  for (int i = 0; i < 19; ++i) twenty += "COMMAND" + std::to_string(i) + " (\\w+) => reply $1\n";
  twenty += "(.*) => ok\n";
  const auto twenty_rules = rules_of(twenty);
  measure("'hello' through 20 rules, the last matching", 5, 100000,
          [&] { (void)twenty_rules.match("hello", 1, "127.0.0.1:51528", reply); });
  measure("'COMMAND18 key' through 20 rules, 19th with a capture", 5, 100000,
          [&] { (void)twenty_rules.match("COMMAND18 key", 1, "127.0.0.1:51528", reply); });
  const auto one_rule = rules_of("(.*) => ok\n");
  measure("'hello' through 1 rule", 5, 100000,
          [&] { (void)one_rule.match("hello", 1, "127.0.0.1:51528", reply); });

  const std::regex backtracking("(a+)+$");
  for (const int n : {16, 20, 22, 24}) {
    const std::string text = std::string(n, 'a') + "b";
    char name[80];
    std::snprintf(name, sizeof name, "std::regex_match (a+)+$, %d 'a' + 'b'", n);
    measure(name, 1, 1, [&] { (void)std::regex_match(text, backtracking); });
  }
  return 0;
}
