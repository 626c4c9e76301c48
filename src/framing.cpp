#include "tcp_server/framing.hpp"

#include <algorithm>

namespace tcp_server {
namespace {

// Cuts a logical line into the kept payload and the count of bytes left out. kept is a prefix of
// the line of at most max_line bytes; length is the full line length; last its final byte.
Frame make_frame(std::string_view kept, std::size_t length, char last, std::size_t max_line) {
  // A trailing '\r' (CRLF clients such as telnet) is line ending, not payload.
  const std::size_t logical = (length > 0 && last == '\r') ? length - 1 : length;
  const std::size_t shown = std::min({kept.size(), logical, max_line});
  return Frame{kept.substr(0, shown), logical - shown};
}

}  // namespace

LineFramer::LineFramer(std::size_t max_line) : max_line_(std::max<std::size_t>(max_line, 1)) {}

void LineFramer::append(std::string_view bytes) {
  if (input_pos_ >= input_.size()) {
    input_.assign(bytes);
  } else {
    // The caller did not drain next(); keep the unframed rest instead of losing it.
    input_.erase(0, input_pos_);
    input_.append(bytes);
  }
  input_pos_ = 0;
}

void LineFramer::hold(std::string_view part) {
  if (part.empty()) return;
  if (held_.size() < max_line_) held_.append(part.substr(0, max_line_ - held_.size()));
  held_length_ += part.size();
  held_last_ = part.back();
}

void LineFramer::emit_held(std::string_view tail, Frame& out) {
  hold(tail);
  frame_storage_.swap(held_);
  out = make_frame(frame_storage_, held_length_, held_last_, max_line_);
  held_.clear();
  held_length_ = 0;
  held_last_ = 0;
}

FrameStatus LineFramer::next(Frame& out) {
  const std::string_view rest = std::string_view(input_).substr(input_pos_);
  const std::size_t newline = rest.find('\n');
  if (newline == std::string_view::npos) {
    hold(rest);
    input_.clear();
    input_pos_ = 0;
    return FrameStatus::kNeedMore;
  }
  const std::string_view line = rest.substr(0, newline);
  input_pos_ += newline + 1;
  if (held_length_ == 0) {
    // The whole line is in this input: hand it out without copying.
    out = make_frame(line, line.size(), line.empty() ? '\0' : line.back(), max_line_);
  } else {
    emit_held(line, out);
  }
  return FrameStatus::kFrame;
}

bool LineFramer::finish(Frame& out) {
  hold(std::string_view(input_).substr(input_pos_));
  input_.clear();
  input_pos_ = 0;
  if (held_length_ == 0) return false;
  emit_held({}, out);
  return true;
}

bool LineFramer::empty() const noexcept {
  return held_length_ == 0 && input_pos_ >= input_.size();
}

}  // namespace tcp_server
