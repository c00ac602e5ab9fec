// Shared by the libFuzzer targets that hand their input to a reader as a file: a private temporary folder for the
// process (removed with its contents when the fuzzer exits) and the write of one input into it.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

namespace fuzz {

/// mkdtemp(pattern), or /tmp itself when that fails (then nothing is removed at exit).
struct TempDir {
    std::string path = "/tmp";
    bool owned = false;
    explicit TempDir(const char* pattern) {
        std::string t = pattern;
        if (mkdtemp(&t[0])) path = t, owned = true;
    }
    ~TempDir() {
        std::error_code ec;
        if (owned) std::filesystem::remove_all(path, ec);
    }
};

/// Writes the fuzzer's bytes to `path`; false when the file cannot be written.
inline bool write_input(const std::string& path, const uint8_t* data, size_t size) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return false;
    const bool ok = size == 0 || std::fwrite(data, 1, size, f) == size;
    return std::fclose(f) == 0 && ok;
}

}  // namespace fuzz
