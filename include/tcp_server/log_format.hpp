#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "tcp_server/text_encoding.hpp"

namespace tcp_server {

// Makes peer bytes safe to put in a one-line log record.
//  - Valid UTF-8 printable text (Chinese included) is kept as is.
//  - '\\' becomes "\\\\"; '\n' '\r' '\t' become "\\n" "\\r" "\\t"; every other C0 control byte,
//    DEL, and every byte that is not part of valid UTF-8 becomes "\\xNN" (lower-case hex).
//  - C1 controls (U+0080..U+009F), every Bidi_Control character (U+061C, U+200E, U+200F,
//    U+202A..U+202E, U+2066..U+2069) and U+2028/U+2029 become "\\u{NNNN}", so no peer can
//    reorder or break the line a person reads.
//  - At most max_bytes input bytes are shown (never cutting a UTF-8 sequence); when anything is
//    left out the result ends with "...(+N bytes)", N counting every byte not shown.
// Pure and allocation-bounded: the output is at most about 10 * max_bytes + 32 bytes.
std::string escape_for_log(std::string_view bytes, std::size_t max_bytes);

// Same as escape_for_log, appending to out; extra_dropped is added to the "+N bytes" count
// (for lines the framer already cut).
void append_escaped_for_log(std::string& out, std::string_view bytes, std::size_t max_bytes,
                            std::size_t extra_dropped = 0);

// --log-hex: payloads as hex rather than as escaped text.
//  - append_hex_dump_for_log, for the text log: "N bytes:" then one line per 16 bytes as xxd
//    prints them (offset, hex in pairs, printable column), each line after a '\n' and indented
//    by two spaces, so that no continuation line can pass for a record of its own (records
//    start with a date). The printable column shows 0x20..0x7E only, any other byte as '.':
//    the dump holds no byte of the peer's raw except those, so it cannot inject a line or a
//    control byte.
//  - append_hex_for_log, for JSON: the bytes as lower-case hex pairs, nothing else.
// At most max_bytes input bytes are shown; when any are left out (extra_dropped counts bytes
// the framer already cut) "...(+N bytes)" follows, on a line of its own in the dump.
// Pure; the dump is at most about 5 * max_bytes + 96 bytes, the hex 2 * max_bytes + 32.
void append_hex_dump_for_log(std::string& out, std::string_view bytes, std::size_t max_bytes,
                             std::size_t extra_dropped = 0);
void append_hex_for_log(std::string& out, std::string_view bytes, std::size_t max_bytes,
                        std::size_t extra_dropped = 0);

// How a payload is shown: escaped text (the default), a hex dump (--log-hex, text log) or hex
// pairs (--log-hex, JSON log's payload_hex).
enum class PayloadStyle { kEscapedText, kHexDump, kHex };

// Formats payloads for the log in the clients' encoding. For any encoding but UTF-8, bytes are
// decoded with iconv to UTF-8 first; bytes that are not valid in the encoding are shown as
// "\\xNN". For UTF-8 this is append_escaped_for_log. Not thread safe (holds an iconv handle):
// one per connection.
class PayloadFormatter {
 public:
  // In the hex styles the encoding is not used: bytes are shown as they came.
  PayloadFormatter(const TextEncoding& encoding, std::size_t max_bytes,
                   PayloadStyle style = PayloadStyle::kEscapedText);
  ~PayloadFormatter();
  PayloadFormatter(PayloadFormatter&&) noexcept;
  PayloadFormatter& operator=(PayloadFormatter&&) noexcept;
  PayloadFormatter(const PayloadFormatter&) = delete;
  PayloadFormatter& operator=(const PayloadFormatter&) = delete;

  // Replaces out with the display form of bytes (max_bytes counts input bytes).
  void format(std::string& out, std::string_view bytes, std::size_t extra_dropped = 0);

 private:
  struct Iconv;
  std::size_t max_bytes_;
  PayloadStyle style_;
  std::unique_ptr<Iconv> iconv_;
};

// --log-format: one text line per event, or one JSON object per line for log shippers.
enum class LogFormat { kText, kJson };

// spdlog patterns for the two formats. In JSON, ServerLog writes the members after "level"
// ("event", "conn", "peer", ...), so each line is one object.
inline constexpr const char* kTextLogPattern = "%Y-%m-%d %H:%M:%S.%e %l %v";
inline constexpr const char* kJsonLogPattern =
    R"({"time":"%Y-%m-%dT%H:%M:%S.%f%z","level":"%l",%v})";

// The payload style --log-hex (hex) asks for in a log of this format.
constexpr PayloadStyle payload_style(LogFormat format, bool hex) {
  if (!hex) return PayloadStyle::kEscapedText;
  return format == LogFormat::kJson ? PayloadStyle::kHex : PayloadStyle::kHexDump;
}

// text as a JSON string literal, quotes included: '"' and '\' escaped, control bytes as
// \u00XX. Bytes >= 0x80 are copied: callers pass text escape_for_log has made valid UTF-8.
std::string json_quote(std::string_view text);

}  // namespace tcp_server
