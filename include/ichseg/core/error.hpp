/// @file error.hpp
/// @brief The one exception type of the library and the ICHSEG_CHECK macro that builds its message.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace ichseg {

/// Every error raised by ichseg. The message names the operation (or file) and the offending values.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
inline void append(std::ostringstream&) {}
template <class A, class... R>
void append(std::ostringstream& os, const A& a, const R&... r) {
    os << a;
    append(os, r...);
}
template <class... A>
std::string cat(const A&... a) {
    std::ostringstream os;
    append(os, a...);
    return os.str();
}
}  // namespace detail

/// Throw ichseg::Error with the streamed message parts concatenated.
template <class... A>
[[noreturn]] void fail(const A&... a) {
    throw Error(detail::cat(a...));
}

}  // namespace ichseg

/// ICHSEG_CHECK(cond, parts...): throw ichseg::Error("parts...") when cond is false.
#define ICHSEG_CHECK(cond, ...)                 \
    do {                                        \
        if (!(cond)) ::ichseg::fail(__VA_ARGS__); \
    } while (0)
