#include "pcap_writer.hpp"

#include <fmt/format.h>
#include <pcap/pcap.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "server_log.hpp"

namespace tcp_server {
namespace {

// The largest packet a record can hold: an IPv6 header plus a 65535-byte IPv6 payload.
constexpr int kSnapLength = 65535 + static_cast<int>(kIpv6HeaderSize);
constexpr std::uint64_t kFileHeaderSize = 24;    // pcap's global header
constexpr std::uint64_t kRecordHeaderSize = 16;  // pcap's per-packet header
// What a queued record costs besides its payload (the Record, the deque's share).
constexpr std::size_t kRecordOverhead = 128;
// Drops are reported at most this often while they go on, and once more at close.
constexpr auto kDropLogInterval = std::chrono::seconds(10);

// Everything written so far is in the file. pcap_dump() reports nothing: a failed write shows as
// the stream's error flag (and a failed pcap_dump_flush()).
bool flushed(pcap_dumper_t* dumper) {
  return pcap_dump_flush(dumper) == 0 && std::ferror(pcap_dump_file(dumper)) == 0;
}

}  // namespace

struct PcapWriter::Pcap {
  pcap_t* handle = nullptr;
  pcap_dumper_t* dumper = nullptr;

  Pcap() = default;
  Pcap(const Pcap&) = delete;
  Pcap& operator=(const Pcap&) = delete;
  ~Pcap() {
    if (dumper != nullptr) pcap_dump_close(dumper);
    if (handle != nullptr) pcap_close(handle);
  }
};

PcapWriter::PcapWriter(Options options, ServerLog& log)
    : options_(std::move(options)), log_(log), pcap_(std::make_unique<Pcap>()) {
  pcap_->handle = pcap_open_dead(DLT_RAW, kSnapLength);
  if (pcap_->handle == nullptr) {
    throw std::runtime_error(fmt::format("--pcap {}: libpcap could not start", options_.path));
  }
  pcap_->dumper = pcap_dump_open(pcap_->handle, options_.path.c_str());
  if (pcap_->dumper == nullptr) {
    // libpcap's message already names the file ("x.pcap: Permission denied").
    throw std::runtime_error(fmt::format("--pcap: {}", pcap_geterr(pcap_->handle)));
  }
  // The header is in the file at once, so that a reader never sees an empty file, and a file
  // that cannot be written (a full disk, /dev/full) is found now rather than at the first
  // client.
  if (!flushed(pcap_->dumper)) {
    throw std::runtime_error(
        fmt::format("--pcap {}: cannot write: {}", options_.path, std::strerror(errno)));
  }
  file_size_ = kFileHeaderSize;
  writer_ = std::thread([this] { run(); });
}

PcapWriter::~PcapWriter() {
  close();
}

void PcapWriter::record(const TcpFlow& flow, const TcpSegment& segment, bool acknowledged,
                        std::chrono::system_clock::time_point time) noexcept {
  if (stopped_writing_.load(std::memory_order_relaxed)) return;
  const std::size_t cost = segment.payload.size() + kRecordOverhead;
  try {
    std::unique_lock lock(mutex_);
    if (closed_ || closing_) return;
    if (queued_bytes_ + cost > options_.max_queued_bytes) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    queue_.push_back({flow, segment.from, segment.seq, segment.ack, segment.flags, acknowledged,
                      time, std::string(segment.payload)});
    queued_bytes_ += cost;
    const bool was_empty = queue_.size() == 1;
    lock.unlock();
    if (was_empty) wake_writer_.notify_one();
  } catch (...) {  // out of memory for the copy: as good as a full queue
    dropped_.fetch_add(1, std::memory_order_relaxed);
  }
}

void PcapWriter::flush() {
  std::unique_lock lock(mutex_);
  if (closed_) return;
  const std::uint64_t request = ++flush_requests_;
  wake_writer_.notify_one();
  flushed_.wait(lock, [&] { return flushes_done_ >= request || closed_; });
}

void PcapWriter::close() noexcept {
  {
    std::lock_guard lock(mutex_);
    if (closing_ || closed_) return;
    closing_ = true;
  }
  wake_writer_.notify_one();
  if (writer_.joinable()) writer_.join();
  log_drops(/*final=*/true);
  pcap_.reset();
  std::lock_guard lock(mutex_);
  closed_ = true;
  flushed_.notify_all();
}

void PcapWriter::run() noexcept {
  std::deque<Record> batch;
  for (;;) {
    std::uint64_t flush_target = 0;
    bool closing = false;
    {
      std::unique_lock lock(mutex_);
      wake_writer_.wait(
          lock, [&] { return !queue_.empty() || closing_ || flush_requests_ > flushes_done_; });
      batch.swap(queue_);
      queued_bytes_ = 0;
      flush_target = flush_requests_;
      closing = closing_;
    }
    for (const Record& record : batch) {
      if (stopped_writing_.load(std::memory_order_relaxed)) break;
      try {
        write(record);
      } catch (...) {  // out of memory building a packet: that one is lost
        dropped_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    batch.clear();
    // Flushed whenever the queue runs dry, so that a reader of the file (tshark on a live
    // capture) sees each conversation soon after it happened.
    if (!flushed(pcap_->dumper) && !stopped_writing_.exchange(true)) {
      log_.note(
          spdlog::level::err, "pcap",
          fmt::format("--pcap {}: writing failed; no more packets are written", options_.path));
    }
    log_drops(/*final=*/false);
    {
      std::lock_guard lock(mutex_);
      flushes_done_ = flush_target;
      if (closing && queue_.empty()) {
        flushed_.notify_all();
        return;
      }
    }
    flushed_.notify_all();
  }
}

void PcapWriter::write(const Record& record) {
  std::vector<std::string> packets;
  append_tcp_packets(packets, record.flow,
                     {record.from, record.seq, record.ack, record.flags, record.payload},
                     max_tcp_payload(record.flow), record.acknowledged);
  const auto since_epoch = record.time.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  pcap_pkthdr header{};
  header.ts.tv_sec = static_cast<time_t>(seconds.count());
  header.ts.tv_usec = static_cast<suseconds_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(since_epoch - seconds).count());
  for (const std::string& packet : packets) {
    const std::uint64_t size = kRecordHeaderSize + packet.size();
    if (options_.max_size != 0 && file_size_ + size > options_.max_size) {
      stopped_writing_.store(true);
      log_.note(spdlog::level::warn, "pcap",
                fmt::format("--pcap {} reached --pcap-max-size ({} bytes); no more packets are "
                            "written",
                            options_.path, options_.max_size));
      return;
    }
    header.caplen = static_cast<bpf_u_int32>(packet.size());
    header.len = header.caplen;
    pcap_dump(reinterpret_cast<u_char*>(pcap_->dumper), &header,
              reinterpret_cast<const u_char*>(packet.data()));
    file_size_ += size;
  }
}

void PcapWriter::log_drops(bool final) {
  const std::uint64_t dropped = dropped_.load();
  if (dropped == drops_logged_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!final && now < next_drop_log_) return;
  next_drop_log_ = now + kDropLogInterval;
  log_.note(spdlog::level::warn, "pcap_dropped",
            fmt::format("--pcap {}: {} segment{} not captured (the writer fell behind; {} in all)",
                        options_.path, dropped - drops_logged_,
                        dropped - drops_logged_ == 1 ? "" : "s", dropped));
  drops_logged_ = dropped;
}

}  // namespace tcp_server
