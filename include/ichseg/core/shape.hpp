/// @file shape.hpp
/// @brief Shapes and strides: a small vector of int64 extents, element counts, row-major strides, printing.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"

namespace ichseg {

using Shape = std::vector<int64_t>;

/// Number of elements of a shape (1 for a scalar shape []).
inline int64_t numel(const Shape& s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return n;
}

/// Row-major (C-order) strides of a shape, in elements.
inline Shape contiguous_strides(const Shape& s) {
    Shape st(s.size());
    int64_t acc = 1;
    for (size_t i = s.size(); i-- > 0;) {
        st[i] = acc;
        acc *= s[i];
    }
    return st;
}

/// "[2, 32, 256, 256]"
inline std::string to_string(const Shape& s) {
    std::ostringstream os;
    os << '[';
    for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
    os << ']';
    return os.str();
}

}  // namespace ichseg
