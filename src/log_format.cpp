#include "tcp_server/log_format.hpp"

#include <fmt/format.h>
#include <iconv.h>

#include <array>
#include <cerrno>

namespace tcp_server {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

void append_hex_byte(std::string& out, unsigned char byte) {
  out += "\\x";
  out += kHexDigits[byte >> 4];
  out += kHexDigits[byte & 0xF];
}

// The Unicode Bidi_Control property, complete as of Unicode 15 (PropList.txt): ALM, LRM, RLM,
// the embeddings and overrides LRE..RLO, and the isolates LRI..PDI.
bool is_bidi_control(char32_t cp) {
  return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

// Code points that are valid text but would let a peer reorder or break the line a person reads:
// C1 controls, bidi controls, LINE and PARAGRAPH SEPARATOR. Every path to the log (UTF-8 and
// decoded GBK) goes through append_escaped, hence through this one predicate.
bool is_hidden_control(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || is_bidi_control(cp) || cp == 0x2028 || cp == 0x2029;
}

// Length of the valid UTF-8 sequence at the front of bytes and its code point; 0 if invalid.
std::size_t decode_utf8(std::string_view bytes, char32_t& cp) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
  const unsigned char lead = byte(0);
  std::size_t length = 0;
  char32_t min = 0;
  if (lead < 0x80) {
    cp = lead;
    return 1;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, cp = lead & 0x1F, min = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, cp = lead & 0x0F, min = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, cp = lead & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (bytes.size() < length) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i) & 0x3F);
  }
  // Overlong forms, UTF-16 surrogates and values past Unicode are not text.
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return length;
}

void append_suffix(std::string& out, std::size_t left_out) {
  if (left_out > 0) fmt::format_to(std::back_inserter(out), "...(+{} bytes)", left_out);
}

// Escapes at most max_bytes bytes of bytes onto out; returns how many input bytes it showed.
std::size_t append_escaped(std::string& out, std::string_view bytes, std::size_t max_bytes) {
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    char32_t cp = 0;
    const std::size_t length = decode_utf8(bytes.substr(pos), cp);
    if (pos + std::max<std::size_t>(length, 1) > max_bytes) break;
    if (length == 0) {
      append_hex_byte(out, static_cast<unsigned char>(bytes[pos]));
      ++pos;
      continue;
    }
    switch (cp) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (cp < 0x20 || cp == 0x7F) {
          append_hex_byte(out, static_cast<unsigned char>(cp));
        } else if (is_hidden_control(cp)) {
          fmt::format_to(std::back_inserter(out), "\\u{{{:04X}}}", static_cast<std::uint32_t>(cp));
        } else {
          out.append(bytes.substr(pos, length));
        }
    }
    pos += length;
  }
  return pos;
}

}  // namespace

void append_escaped_for_log(std::string& out, std::string_view bytes, std::size_t max_bytes,
                            std::size_t extra_dropped) {
  const std::size_t shown = append_escaped(out, bytes, max_bytes);
  append_suffix(out, bytes.size() - shown + extra_dropped);
}

std::string escape_for_log(std::string_view bytes, std::size_t max_bytes) {
  std::string out;
  append_escaped_for_log(out, bytes, max_bytes);
  return out;
}

namespace {

constexpr std::size_t kHexDumpLineBytes = 16;

void append_hex_pair(std::string& out, unsigned char byte) {
  out += kHexDigits[byte >> 4];
  out += kHexDigits[byte & 0xF];
}

}  // namespace

void append_hex_dump_for_log(std::string& out, std::string_view bytes, std::size_t max_bytes,
                             std::size_t extra_dropped) {
  const std::string_view shown = bytes.substr(0, max_bytes);
  fmt::format_to(std::back_inserter(out), "{} byte{}:", bytes.size() + extra_dropped,
                 bytes.size() + extra_dropped == 1 ? "" : "s");
  for (std::size_t line = 0; line < shown.size(); line += kHexDumpLineBytes) {
    const std::string_view row = shown.substr(line, kHexDumpLineBytes);
    fmt::format_to(std::back_inserter(out), "\n  {:08x}: ", line);
    for (std::size_t i = 0; i < kHexDumpLineBytes; ++i) {
      if (i < row.size()) {
        append_hex_pair(out, static_cast<unsigned char>(row[i]));
      } else {
        out += "  ";
      }
      if (i % 2 == 1) out += ' ';
    }
    out += ' ';
    for (const char c : row) out += (c >= 0x20 && c <= 0x7E) ? c : '.';
  }
  const std::size_t left_out = bytes.size() - shown.size() + extra_dropped;
  if (left_out > 0) {
    out += "\n  ";
    append_suffix(out, left_out);
  }
}

void append_hex_for_log(std::string& out, std::string_view bytes, std::size_t max_bytes,
                        std::size_t extra_dropped) {
  const std::string_view shown = bytes.substr(0, max_bytes);
  for (const char c : shown) append_hex_pair(out, static_cast<unsigned char>(c));
  append_suffix(out, bytes.size() - shown.size() + extra_dropped);
}

struct PayloadFormatter::Iconv {
  iconv_t handle;
  std::string decoded;

  explicit Iconv(iconv_t h) : handle(h) {}
  ~Iconv() { iconv_close(handle); }
  Iconv(const Iconv&) = delete;
  Iconv& operator=(const Iconv&) = delete;
};

PayloadFormatter::PayloadFormatter(const TextEncoding& encoding, std::size_t max_bytes,
                                   PayloadStyle style)
    : max_bytes_(max_bytes), style_(style) {
  if (style != PayloadStyle::kEscapedText || encoding.is_utf8()) return;
  const iconv_t handle = iconv_open("UTF-8", encoding.name().c_str());
  // TextEncoding::named has opened this conversion already; should it fail now, the bytes are
  // shown escaped as UTF-8, which loses nothing.
  if (handle != reinterpret_cast<iconv_t>(-1)) iconv_ = std::make_unique<Iconv>(handle);
}

PayloadFormatter::~PayloadFormatter() = default;
PayloadFormatter::PayloadFormatter(PayloadFormatter&&) noexcept = default;
PayloadFormatter& PayloadFormatter::operator=(PayloadFormatter&&) noexcept = default;

void PayloadFormatter::format(std::string& out, std::string_view bytes, std::size_t extra_dropped) {
  out.clear();
  if (style_ == PayloadStyle::kHexDump) {
    append_hex_dump_for_log(out, bytes, max_bytes_, extra_dropped);
    return;
  }
  if (style_ == PayloadStyle::kHex) {
    append_hex_for_log(out, bytes, max_bytes_, extra_dropped);
    return;
  }
  if (!iconv_) {
    append_escaped_for_log(out, bytes, max_bytes_, extra_dropped);
    return;
  }
  const std::string_view shown = bytes.substr(0, max_bytes_);
  iconv(iconv_->handle, nullptr, nullptr, nullptr, nullptr);  // reset shift state
  std::array<char, 1024> chunk;
  std::size_t pos = 0;
  while (pos < shown.size()) {
    char* in = const_cast<char*>(shown.data() + pos);
    std::size_t in_left = shown.size() - pos;
    char* decoded = chunk.data();
    std::size_t decoded_left = chunk.size();
    const std::size_t result = iconv(iconv_->handle, &in, &in_left, &decoded, &decoded_left);
    const int error = result == static_cast<std::size_t>(-1) ? errno : 0;
    const std::size_t consumed = static_cast<std::size_t>(in - (shown.data() + pos));
    // Decoded text is UTF-8 now; escaping it again catches the controls every encoding here
    // shares with ASCII (and any the decoding produced).
    append_escaped(out, std::string_view(chunk.data(), chunk.size() - decoded_left),
                   static_cast<std::size_t>(-1));
    pos += consumed;
    if (error == E2BIG) continue;
    if (error == EILSEQ) {
      append_hex_byte(out, static_cast<unsigned char>(shown[pos]));
      ++pos;
    } else if (error == EINVAL) {
      // A multi-byte character cut at the end: cut by max_bytes it is left out, otherwise the
      // peer really sent part of a character.
      if (shown.size() < bytes.size()) break;
      while (pos < shown.size()) append_hex_byte(out, static_cast<unsigned char>(shown[pos++]));
    } else if (error != 0) {
      break;
    }
  }
  // A decoder may hold a character back in case a combining one follows (BIG5-HKSCS does); the
  // message is over, so it gives it up now.
  char* decoded = chunk.data();
  std::size_t decoded_left = chunk.size();
  iconv(iconv_->handle, nullptr, nullptr, &decoded, &decoded_left);
  append_escaped(out, std::string_view(chunk.data(), chunk.size() - decoded_left),
                 static_cast<std::size_t>(-1));
  append_suffix(out, bytes.size() - pos + extra_dropped);
}

std::string json_quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7f) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace tcp_server
