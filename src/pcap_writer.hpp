#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "tcp_server/tcp_segments.hpp"

namespace tcp_server {

class ServerLog;

// --pcap: writes the segments connections record to a pcap file (libpcap, LINKTYPE_RAW: each
// record an IPv4 or IPv6 packet), on a thread of its own. Client threads only queue: a queue
// that is full (the disk slower than the clients) drops what they record, counted and logged,
// rather than making them wait. Thread safe.
class PcapWriter {
 public:
  struct Options {
    std::string path;
    std::uint64_t max_size = 0;                // bytes of file; 0: no limit
    std::size_t max_queued_bytes = 32u << 20;  // payload and overhead waiting to be written
  };

  // Creates (truncates) the file and starts the writer thread. Throws std::runtime_error naming
  // --pcap and the file when it cannot be written.
  PcapWriter(Options options, ServerLog& log);
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  // Queues segment (its payload copied) of flow, sent at time. acknowledged: see
  // append_tcp_packets. Never waits for the file; never throws (out of memory drops it).
  void record(const TcpFlow& flow, const TcpSegment& segment, bool acknowledged,
              std::chrono::system_clock::time_point time) noexcept;

  // Writes everything queued before the call and flushes the file (the drain calls it once
  // every connection has finished). Later records are still written.
  void flush();
  // flush(), then closes the file and logs how many segments were dropped, if any. Later
  // records are dropped. Called by the destructor.
  void close() noexcept;

  // Segments recorded but not written because the queue was full.
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_.load(); }

 private:
  struct Record {
    TcpFlow flow;
    TcpSide from;
    std::uint32_t seq;
    std::uint32_t ack;
    std::uint8_t flags;
    bool acknowledged;
    std::chrono::system_clock::time_point time;
    std::string payload;
  };
  struct Pcap;  // the libpcap handles

  void run() noexcept;
  void write(const Record& record);
  void log_drops(bool final);

  const Options options_;
  ServerLog& log_;
  std::unique_ptr<Pcap> pcap_;

  std::mutex mutex_;
  std::condition_variable wake_writer_;
  std::condition_variable flushed_;
  std::deque<Record> queue_;
  std::size_t queued_bytes_ = 0;
  std::uint64_t flush_requests_ = 0;
  std::uint64_t flushes_done_ = 0;
  bool closing_ = false;
  bool closed_ = false;

  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<bool> stopped_writing_{false};  // cap reached or write failed: records are dropped
  // Writer thread only.
  std::uint64_t file_size_ = 0;
  std::uint64_t drops_logged_ = 0;
  std::chrono::steady_clock::time_point next_drop_log_{};
  std::thread writer_;
};

}  // namespace tcp_server
