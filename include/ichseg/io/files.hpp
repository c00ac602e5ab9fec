/// @file files.hpp
/// @brief File-system helpers of the layers above io, each error naming the path: create a folder (with its
/// parents), read a JSON file. Atomic replacement of a file is in atomic_file.hpp (included).
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "ichseg/core/error.hpp"
#include "ichseg/io/atomic_file.hpp"

namespace ichseg::io {

/// Create folder `d` and its parents (nothing to do when it exists).
inline void make_dirs(const std::string& d) {
    std::error_code ec;
    std::filesystem::create_directories(d, ec);
    if (ec) fail(d, ": cannot create folder: ", ec.message());
}

/// Parse the JSON file at `path`.
inline nlohmann::json read_json_file(const std::string& path) {
    std::ifstream f(path);
    ICHSEG_CHECK(f.good(), path, ": cannot open");
    try {
        return nlohmann::json::parse(f);
    } catch (const nlohmann::json::exception& e) {
        fail(path, ": not valid JSON: ", e.what());
    }
}

}  // namespace ichseg::io
