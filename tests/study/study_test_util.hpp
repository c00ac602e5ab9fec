/// @file study_test_util.hpp
/// @brief Helpers shared by the study tests: a fresh scratch folder under the test binary directory (file
/// reading: support/files.hpp).
#pragma once

#include <filesystem>
#include <string>

#include "support/files.hpp"

namespace ichseg::test {

/// ICHSEG_TEST_BINARY_DIR/<group>/<name>, emptied and created.
inline std::string fresh_dir(const std::string& group, const std::string& name) {
    const std::string d = std::string(ICHSEG_TEST_BINARY_DIR) + "/" + group + "/" + name;
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    return d;
}

}  // namespace ichseg::test
