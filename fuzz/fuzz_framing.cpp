// Feeds arbitrary bytes, cut into arbitrary reads, through LineFramer and checks what it promises:
// bounded payloads and memory, every byte accounted for, and the same lines however the stream is
// cut.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "tcp_server/framing.hpp"

namespace {

struct Line {
  std::string payload;
  std::size_t dropped;
  bool operator==(const Line&) const = default;
};

std::vector<Line> frame(std::string_view stream, std::size_t max_line, std::size_t read_size) {
  tcp_server::LineFramer framer(max_line);
  std::vector<Line> lines;
  tcp_server::Frame out;
  for (std::size_t pos = 0; pos < stream.size(); pos += read_size) {
    framer.append(stream.substr(pos, read_size));
    while (framer.next(out) == tcp_server::FrameStatus::kFrame) {
      if (out.payload.size() > max_line) std::abort();
      lines.push_back({std::string(out.payload), out.dropped_bytes});
    }
    // Never more than max_line plus the inline capacity of its strings, whatever it is fed.
    if (framer.memory_held() > max_line + 64) std::abort();
  }
  if (framer.finish(out)) lines.push_back({std::string(out.payload), out.dropped_bytes});
  if (!framer.empty()) std::abort();
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t max_line = 1 + data[0] % 64;
  const std::size_t read_size = 1 + data[1] % 97;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  const std::vector<Line> whole = frame(stream, max_line, stream.size() + 1);
  if (frame(stream, max_line, read_size) != whole) std::abort();

  // Every byte is a payload byte, a dropped byte, a '\n', or a stripped '\r'.
  std::size_t accounted = 0;
  for (const Line& line : whole) accounted += line.payload.size() + line.dropped;
  const std::size_t newlines =
      static_cast<std::size_t>(std::count(stream.begin(), stream.end(), '\n'));
  if (accounted + newlines > stream.size() || accounted + newlines + whole.size() < stream.size()) {
    std::abort();
  }
  return 0;
}
