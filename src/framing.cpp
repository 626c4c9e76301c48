#include "tcp_server/framing.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <new>

namespace tcp_server {
namespace {

// Storage of a delivered line beyond this is given back; up to it, it is kept for the next line
// that spans reads (the server's first reads are 1 KiB, so lines that fit them never allocate).
constexpr std::size_t kKeptCapacity = 1024;
// Blocks from this size on are mapped (allocate_block): the 16 KiB receive buffer, a burst's
// replies, a long line's storage.
constexpr std::size_t kMappedFrom = 16 * 1024;

// Cuts a logical line into the kept payload and the count of bytes left out. kept is a prefix of
// the line of at most max_line bytes; length is the full line length; last its final byte.
Frame make_frame(std::string_view kept, std::size_t length, char last, std::size_t max_line) {
  // A trailing '\r' (CRLF clients such as telnet) is line ending, not payload.
  const std::size_t logical = (length > 0 && last == '\r') ? length - 1 : length;
  const std::size_t shown = std::min({kept.size(), logical, max_line});
  return Frame{kept.substr(0, shown), logical - shown};
}

// Makes room for needed bytes of an unfinished line (needed <= max_line). Up to kKeptCapacity
// it doubles as strings do; a longer line gets max_line at once: one block, of which only the
// pages the line fills become resident, instead of a trail of ever larger blocks. (Built by hand:
// reserve() on a string that has storage rounds up to twice its capacity, which could take a
// 64 KiB line to 96 KiB.)
void make_room(LargeBlockString& held, std::size_t needed, std::size_t max_line) {
  if (needed <= held.capacity()) return;
  const std::size_t wanted = needed <= kKeptCapacity
                                 ? std::min(std::max(needed, 2 * held.capacity()), kKeptCapacity)
                                 : max_line;
  LargeBlockString grown;
  grown.reserve(std::max(needed, std::min(wanted, max_line)));
  grown.append(held);
  held.swap(grown);
}

}  // namespace

void* allocate_block(std::size_t size) {
  if (size < kMappedFrom) return ::operator new(size);
  void* block = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (block == MAP_FAILED) throw std::bad_alloc();
  return block;
}

void free_block(void* block, std::size_t size) noexcept {
  if (size < kMappedFrom) {
    ::operator delete(block);
    return;
  }
  ::munmap(block, size);
}

LineFramer::LineFramer(std::size_t max_line) : max_line_(std::max<std::size_t>(max_line, 1)) {}

void LineFramer::append(std::string_view bytes) {
  release_delivered();
  if (input_.empty()) {
    input_ = bytes;
    return;
  }
  // The caller did not drain next(); keep the unframed rest instead of losing it. input_ may
  // point into unframed_, so the joined copy is made before unframed_ changes.
  std::string joined;
  joined.reserve(input_.size() + bytes.size());
  joined.append(input_).append(bytes);
  unframed_.swap(joined);
  input_ = unframed_;
}

void LineFramer::hold(std::string_view part) {
  if (part.empty()) return;
  const std::string_view kept = part.substr(0, max_line_ - held_.size());
  if (!kept.empty()) {
    make_room(held_, held_.size() + kept.size(), max_line_);
    held_.append(kept);
  }
  held_length_ += part.size();
  held_last_ = part.back();
}

void LineFramer::emit_held(std::string_view tail, Frame& out) {
  hold(tail);
  // held_ stays as it is until the next call, since out.payload points into it.
  out = make_frame(held_, held_length_, held_last_, max_line_);
  held_delivered_ = true;
  held_length_ = 0;
  held_last_ = 0;
}

void LineFramer::release_delivered() {
  if (!held_delivered_) return;
  held_delivered_ = false;
  if (held_.capacity() > kKeptCapacity) {
    LargeBlockString().swap(held_);
  } else {
    held_.clear();
  }
}

FrameStatus LineFramer::next(Frame& out) {
  release_delivered();
  const std::size_t newline = input_.find('\n');
  if (newline == std::string_view::npos) {
    hold(input_);
    input_ = {};
    if (!unframed_.empty()) std::string().swap(unframed_);
    return FrameStatus::kNeedMore;
  }
  const std::string_view line = input_.substr(0, newline);
  input_.remove_prefix(newline + 1);
  if (held_length_ == 0) {
    // The whole line is in this input: hand it out without copying.
    out = make_frame(line, line.size(), line.empty() ? '\0' : line.back(), max_line_);
  } else {
    emit_held(line, out);
  }
  return FrameStatus::kFrame;
}

bool LineFramer::finish(Frame& out) {
  release_delivered();
  hold(input_);
  input_ = {};
  if (!unframed_.empty()) std::string().swap(unframed_);
  if (held_length_ == 0) return false;
  emit_held({}, out);
  return true;
}

bool LineFramer::empty() const noexcept {
  return held_length_ == 0 && input_.empty();
}

std::size_t LineFramer::memory_held() const noexcept {
  return held_.capacity() + unframed_.capacity();
}

}  // namespace tcp_server
