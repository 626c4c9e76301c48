#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tcp_server {

// How a byte stream is cut into messages.
enum class Framing {
  kLine,   // one message per '\n'-terminated line
  kChunk,  // one message per recv() call, as the original tutorial did
};

// One message cut out of the stream by LineFramer.
struct Frame {
  // The line without its '\n' and without one trailing '\r'; at most max_line bytes.
  std::string_view payload;
  // Bytes of an overlong line that were counted but not kept (0 for a normal line).
  std::size_t dropped_bytes = 0;
};

enum class FrameStatus { kFrame, kNeedMore };

// Splits a byte stream into lines with bounded memory: pure, no I/O, fuzzable.
// A line longer than max_line is still one message: its first max_line bytes are kept, the rest
// is counted in dropped_bytes, and it is delivered when its '\n' arrives (or at finish()).
// Memory held never exceeds max_line plus the bytes of one append() call.
// Not thread safe: one per connection.
class LineFramer {
 public:
  explicit LineFramer(std::size_t max_line);

  // Adds received bytes. Call next() until kNeedMore before the next append().
  void append(std::string_view bytes);

  // Gives the next complete line. out.payload stays valid until the next call to any member.
  FrameStatus next(Frame& out);

  // End of stream, after next() gave kNeedMore: hands out an unterminated last line, if any.
  bool finish(Frame& out);

  // True when no part of an unfinished line is held (drain uses this to tell idle from busy).
  [[nodiscard]] bool empty() const noexcept;

  [[nodiscard]] std::size_t max_line() const noexcept { return max_line_; }

 private:
  // Adds input bytes that hold no '\n' to the unfinished line, keeping at most max_line_ of them.
  void hold(std::string_view part);
  // Cuts the held line (plus tail, the bytes before its '\n') into out.
  void emit_held(std::string_view tail, Frame& out);

  std::size_t max_line_;
  std::string input_;            // bytes of the latest append() not yet framed
  std::size_t input_pos_ = 0;    // input_[0, input_pos_) was framed
  std::string held_;             // first max_line_ bytes of the unfinished line
  std::size_t held_length_ = 0;  // full length of the unfinished line, dropped bytes included
  char held_last_ = 0;           // its last byte, to strip a '\r' that fell in the dropped part
  std::string frame_storage_;    // backing store for payloads built from held_
};

}  // namespace tcp_server
