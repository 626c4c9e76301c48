#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace tcp_server {

// The character encoding clients use on the wire (--encoding): payloads are decoded from it for
// the log, and the text the server sends is encoded to it, once, at start. A name iconv knows,
// checked when it is made. Only encodings that keep ASCII as ASCII are accepted (GBK, GB18030,
// BIG5, SHIFT_JIS, EUC-KR, ISO-8859-1, ...; not UTF-16 or UTF-7): line framing, the newline
// after a reply, the \xHH escapes and tcp_client's {id} all work on those bytes.
class TextEncoding {
 public:
  // UTF-8, the default.
  TextEncoding() = default;

  // The encoding iconv knows by this name (any case, any alias iconv accepts: "gbk", "cp936",
  // "latin1"). Throws std::invalid_argument saying why a name is refused, e.g.
  // "unknown encoding 'klingon' (iconv -l lists the ones this system knows)".
  static TextEncoding named(std::string_view name);

  // The name as iconv takes it, upper case: "UTF-8", "GBK", "ISO-8859-1".
  [[nodiscard]] const std::string& name() const { return name_; }
  // UTF-8 under any spelling: text needs no conversion.
  [[nodiscard]] bool is_utf8() const { return name_ == kUtf8Name; }

  friend bool operator==(const TextEncoding&, const TextEncoding&) = default;

 private:
  static constexpr const char* kUtf8Name = "UTF-8";
  explicit TextEncoding(std::string name) : name_(std::move(name)) {}
  std::string name_ = kUtf8Name;
};

// Converts UTF-8 text to an encoding, a run at a time, so that raw bytes can be placed between
// runs (the \xHH escapes). For UTF-8 runs are copied as they are, even bytes that are not
// UTF-8: what was given is what is sent. Not thread safe (holds an iconv handle); meant for the
// text sent, encoded once at start, not for every message.
class TextEncoder {
 public:
  explicit TextEncoder(const TextEncoding& encoding);
  ~TextEncoder();
  TextEncoder(TextEncoder&&) noexcept;
  TextEncoder& operator=(TextEncoder&&) noexcept;
  TextEncoder(const TextEncoder&) = delete;
  TextEncoder& operator=(const TextEncoder&) = delete;

  // Appends run, encoded, to out, ending in the encoding's initial shift state (ISO-2022-JP) so
  // that raw bytes may follow. Returns the offset in run of the first character the encoding
  // lacks, or of the first byte that is not UTF-8 (out then holds what came before it);
  // std::nullopt when all of run was encoded.
  std::optional<std::size_t> append(std::string& out, std::string_view run);

 private:
  struct Iconv;
  std::unique_ptr<Iconv> iconv_;  // null for UTF-8
};

// Why text could not be encoded at byte offset `at`, naming the character and its position
// counted in characters from 1: "cannot encode '你' (U+4F60), character 1, in ISO-8859-1", or
// "byte \xff, character 3, is not UTF-8 (write raw bytes as \xHH)".
std::string describe_unencodable(std::string_view text, std::size_t at,
                                 const TextEncoding& encoding);

// text (UTF-8) in encoding, in one piece. Throws std::invalid_argument with
// describe_unencodable's sentence when a character cannot be encoded.
std::string encode_text(std::string_view text, const TextEncoding& encoding);

}  // namespace tcp_server
