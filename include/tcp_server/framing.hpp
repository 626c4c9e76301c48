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

// Storage that is large only for a while (a long line, a burst of acks, a 16 KiB read): blocks of
// 16 KiB and more get pages of their own from the kernel (mmap), which go back to it when the
// block is freed (munmap), and only the pages written to ever become resident. From malloc they
// would not go back: it keeps freed memory for reuse and returns it only from the top of a heap,
// so a burst on many connections would stay resident after all of them are idle again
// (bench/burst_memory.py). Smaller blocks come from operator new. Throws std::bad_alloc.
void* allocate_block(std::size_t size);
// Frees what allocate_block(size) gave, with the same size.
void free_block(void* block, std::size_t size) noexcept;

template <class T>
struct LargeBlockAllocator {
  using value_type = T;
  LargeBlockAllocator() noexcept = default;
  template <class U>
  LargeBlockAllocator(const LargeBlockAllocator<U>& /*other*/) noexcept {}  // rebinding
  T* allocate(std::size_t n) { return static_cast<T*>(allocate_block(n * sizeof(T))); }
  void deallocate(T* block, std::size_t n) noexcept { free_block(block, n * sizeof(T)); }
  friend bool operator==(const LargeBlockAllocator&, const LargeBlockAllocator&) = default;
};

using LargeBlockString = std::basic_string<char, std::char_traits<char>, LargeBlockAllocator<char>>;

// Splits a byte stream into lines with bounded memory: pure, no I/O, fuzzable.
// A line longer than max_line is still one message: its first max_line bytes are kept, the rest
// is counted in dropped_bytes, and it is delivered when its '\n' arrives (or at finish()).
//
// Memory: received bytes are framed where they lie, in the caller's buffer; only an unfinished
// line is copied, and of it at most max_line bytes, so the framer never holds more than max_line
// (plus a few bytes) whatever it is fed. A line that spans appends is held in storage that grows up
// to 1 KiB and is kept for the next such line; a longer one gets max_line at once, as a block of
// its own (allocate_block: only the pages the line fills are resident), freed once the line has
// been delivered. Lines that arrive whole in one append() are never copied at all.
// Not thread safe: one per connection.
class LineFramer {
 public:
  explicit LineFramer(std::size_t max_line);

  // Adds received bytes, without copying them: they must stay valid and unchanged until next()
  // has given kNeedMore (or finish() has been called). Call next() until kNeedMore before the next
  // append(); if not, the bytes not yet framed are copied so that none is lost.
  void append(std::string_view bytes);

  // Gives the next complete line. out.payload stays valid until the next call to any member (and
  // may point into the bytes given to append()).
  FrameStatus next(Frame& out);

  // End of stream, after next() gave kNeedMore: hands out an unterminated last line, if any.
  bool finish(Frame& out);

  // True when no part of an unfinished line is held (drain uses this to tell idle from busy).
  [[nodiscard]] bool empty() const noexcept;

  [[nodiscard]] std::size_t max_line() const noexcept { return max_line_; }

  // Bytes of storage the framer owns (string capacities, the inline ones included). At most
  // max_line plus a few bytes; at most about 1 KiB once next() has given kNeedMore with no line
  // unfinished.
  [[nodiscard]] std::size_t memory_held() const noexcept;

 private:
  // Adds input bytes that hold no '\n' to the unfinished line, keeping at most max_line_ of them.
  void hold(std::string_view part);
  // Cuts the held line (plus tail, the bytes before its '\n') into out.
  void emit_held(std::string_view tail, Frame& out);
  // Called first by append(), next() and finish(): drops the line last delivered from held_, and
  // the storage behind it if it grew large.
  void release_delivered();

  std::size_t max_line_;
  std::string_view input_;       // bytes of the latest append() not yet framed (the caller's)
  std::string unframed_;         // owns input_'s bytes only when append() came before kNeedMore
  LargeBlockString held_;        // first max_line_ bytes of the unfinished line
  std::size_t held_length_ = 0;  // full length of the unfinished line, dropped bytes included
  char held_last_ = 0;           // its last byte, to strip a '\r' that fell in the dropped part
  bool held_delivered_ = false;  // held_ backs the payload handed out last
};

}  // namespace tcp_server
