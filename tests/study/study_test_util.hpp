/// @file study_test_util.hpp
/// @brief Helpers shared by the study tests: a fresh scratch folder under the test binary directory, and a
/// whole file read as a string.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace ichseg::test {

/// ICHSEG_TEST_BINARY_DIR/<group>/<name>, emptied and created.
inline std::string fresh_dir(const std::string& group, const std::string& name) {
    const std::string d = std::string(ICHSEG_TEST_BINARY_DIR) + "/" + group + "/" + name;
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    return d;
}

/// The bytes of `path` ("" when it cannot be read).
inline std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

}  // namespace ichseg::test
