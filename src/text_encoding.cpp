#include "tcp_server/text_encoding.hpp"

#include <fmt/format.h>
#include <iconv.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <iterator>
#include <stdexcept>
#include <utility>

#include "tcp_server/log_format.hpp"

namespace tcp_server {
namespace {

const iconv_t kNoConversion = reinterpret_cast<iconv_t>(-1);

// An encoding is accepted only if ASCII text is sent as its own bytes (every printable character
// and the controls framing and replies rely on), and those controls, letters and digits read
// back as themselves. Not all of ASCII reads back: glibc's SHIFT_JIS reads 0x5C as the yen sign
// and 0x7E as an overline, as JIS X 0201 says, which only changes how the log shows them.
constexpr std::string_view kAsciiSent =
    "\t\n\r !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
    "abcdefghijklmnopqrstuvwxyz{|}~";
constexpr std::string_view kAsciiRead =
    "\t\n\r 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// One conversion, closed when done.
class Conversion {
 public:
  Conversion(const std::string& to, const std::string& from)
      : handle_(iconv_open(to.c_str(), from.c_str())) {}
  ~Conversion() {
    if (handle_ != kNoConversion) iconv_close(handle_);
  }
  Conversion(const Conversion&) = delete;
  Conversion& operator=(const Conversion&) = delete;

  [[nodiscard]] bool opened() const { return handle_ != kNoConversion; }
  [[nodiscard]] iconv_t release() { return std::exchange(handle_, kNoConversion); }

  // All of text converted, or nullopt.
  std::optional<std::string> convert(std::string_view text) {
    std::string out(text.size() * 4 + 16, '\0');
    char* in = const_cast<char*>(text.data());
    std::size_t in_left = text.size();
    char* next = out.data();
    std::size_t out_left = out.size();
    if (iconv(handle_, &in, &in_left, &next, &out_left) == static_cast<std::size_t>(-1) ||
        iconv(handle_, nullptr, nullptr, &next, &out_left) == static_cast<std::size_t>(-1)) {
      return std::nullopt;
    }
    out.resize(out.size() - out_left);
    return out;
  }

 private:
  iconv_t handle_;
};

[[noreturn]] void refuse_unknown(std::string_view name) {
  throw std::invalid_argument(
      fmt::format("unknown encoding '{}' (iconv -l lists the ones this system knows)",
                  escape_for_log(name, 64)));
}

// Length of the UTF-8 sequence starting with lead, counting only the lead byte's claim.
std::size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

}  // namespace

TextEncoding TextEncoding::named(std::string_view name) {
  // iconv reads "//TRANSLIT" and "//IGNORE" after a name as orders to guess or drop characters;
  // a wire encoding is a plain name.
  if (name.empty() || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    refuse_unknown(name);
  }
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  std::string letters_and_digits;
  std::copy_if(upper.begin(), upper.end(), std::back_inserter(letters_and_digits),
               [](unsigned char c) { return std::isalnum(c) != 0; });
  if (letters_and_digits == "UTF8") return TextEncoding();

  Conversion to_wire(upper, kUtf8Name);
  Conversion from_wire(kUtf8Name, upper);
  if (!to_wire.opened() || !from_wire.opened()) refuse_unknown(name);
  if (to_wire.convert(kAsciiSent) != kAsciiSent || from_wire.convert(kAsciiRead) != kAsciiRead) {
    throw std::invalid_argument(
        fmt::format("encoding '{}' does not keep ASCII as is, so newlines, escapes and framing "
                    "would change meaning; use one that does (utf-8, gbk, gb18030, big5, ...)",
                    escape_for_log(name, 64)));
  }
  return TextEncoding(std::move(upper));
}

struct TextEncoder::Iconv {
  iconv_t handle;

  explicit Iconv(iconv_t h) : handle(h) {}
  ~Iconv() { iconv_close(handle); }
  Iconv(const Iconv&) = delete;
  Iconv& operator=(const Iconv&) = delete;
};

TextEncoder::TextEncoder(const TextEncoding& encoding) {
  if (encoding.is_utf8()) return;
  Conversion conversion(encoding.name(), "UTF-8");
  if (!conversion.opened()) refuse_unknown(encoding.name());
  iconv_ = std::make_unique<Iconv>(conversion.release());
}

TextEncoder::~TextEncoder() = default;
TextEncoder::TextEncoder(TextEncoder&&) noexcept = default;
TextEncoder& TextEncoder::operator=(TextEncoder&&) noexcept = default;

std::optional<std::size_t> TextEncoder::append(std::string& out, std::string_view run) {
  if (!iconv_) {
    out += run;
    return std::nullopt;
  }
  std::array<char, 1024> chunk;
  char* in = const_cast<char*>(run.data());
  std::size_t in_left = run.size();
  // First the run, then what returns the encoding to its initial state (a stateful encoding's
  // shift back to ASCII), so raw bytes may follow.
  bool ending = false;
  for (;;) {
    char* next = chunk.data();
    std::size_t chunk_left = chunk.size();
    const std::size_t result = ending ? iconv(iconv_->handle, nullptr, nullptr, &next, &chunk_left)
                                      : iconv(iconv_->handle, &in, &in_left, &next, &chunk_left);
    const int error = result == static_cast<std::size_t>(-1) ? errno : 0;
    out.append(chunk.data(), chunk.size() - chunk_left);
    if (error == E2BIG) continue;
    if (error != 0) {
      // EILSEQ: a character the encoding lacks, or bytes that are not UTF-8; EINVAL: UTF-8 cut
      // short at the end of the run.
      iconv(iconv_->handle, nullptr, nullptr, nullptr, nullptr);
      return static_cast<std::size_t>(in - run.data());
    }
    if (ending) return std::nullopt;
    ending = true;
  }
}

std::string describe_unencodable(std::string_view text, std::size_t at,
                                 const TextEncoding& encoding) {
  std::size_t character = 1;
  for (std::size_t i = 0; i < at && i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++character;
  }
  const std::string_view rest = text.substr(std::min(at, text.size()));
  const std::size_t length = rest.empty() ? 0 : utf8_length(static_cast<unsigned char>(rest[0]));
  const std::string shown = escape_for_log(rest.substr(0, std::max<std::size_t>(length, 1)), 4);
  // A valid character is shown as itself (escape_for_log keeps it); anything else became \xNN.
  if (length == 0 || length > rest.size() || shown.starts_with("\\x")) {
    return fmt::format("byte {}, character {}, is not UTF-8 (write raw bytes as \\xHH)",
                       escape_for_log(rest.substr(0, 1), 1), character);
  }
  const auto byte = [&](std::size_t i) { return static_cast<char32_t>(rest[i]) & 0xFF; };
  char32_t cp = byte(0) & (length == 1 ? 0x7F : 0x7F >> length);
  for (std::size_t i = 1; i < length; ++i) cp = (cp << 6) | (byte(i) & 0x3F);
  return fmt::format("cannot encode '{}' (U+{:04X}), character {}, in {}", shown,
                     static_cast<std::uint32_t>(cp), character, encoding.name());
}

std::string encode_text(std::string_view text, const TextEncoding& encoding) {
  TextEncoder encoder(encoding);
  std::string out;
  if (const auto at = encoder.append(out, text)) {
    throw std::invalid_argument(describe_unencodable(text, *at, encoding));
  }
  return out;
}

}  // namespace tcp_server
