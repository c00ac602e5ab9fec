/// @file text.hpp
/// @brief Text helpers of the writers: printf-style formatting into a std::string, and a CSV field quoted as
/// RFC 4180 requires (the writing side of csv.hpp).
#pragma once

#include <cstdio>
#include <string>

namespace ichseg::io {

/// printf-style formatting into a std::string (at most 127 characters).
template <class... A>
std::string format(const char* fmt, A... a) {
    char buf[128];
    std::snprintf(buf, sizeof buf, fmt, a...);
    return buf;
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
inline std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) {
        if (c == '"') q += '"';
        q += c;
    }
    return q + "\"";
}

}  // namespace ichseg::io
