#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tcp_server::client {

// Fills a --message template: "{id}" becomes the client's number, "{n}" the message's number
// (both from 1); "{{" and "}}" are literal braces; anything else is copied as is.
std::string expand_message(std::string_view pattern, std::size_t id, std::size_t n);

}  // namespace tcp_server::client
