/// @file files.hpp (tests)
/// @brief File helpers shared by the test areas: a whole file read as a string.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace ichseg::test {

/// The bytes of `path` ("" when it cannot be read; the callers' checks on the content then fail).
inline std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

}  // namespace ichseg::test
