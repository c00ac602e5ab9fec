/// @file io_test_util.hpp (tests)
/// @brief Helpers of the I/O tests: a self-removing temporary folder, a byte-level NIfTI-1 builder independent of
/// nifticlib (big-endian files, qform-only headers, broken headers), file truncation and log capture.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ichseg/io/log.hpp"

namespace ichseg::test {

/// A fresh folder under the system temp dir, removed with its contents on destruction.
class TempDir {
public:
    TempDir() {
        static std::atomic<int> counter{0};
        path_ = (std::filesystem::temp_directory_path() /
                 ("ichseg-io-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
                    .string();
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}
inline std::string read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
inline void truncate_file(const std::string& path, size_t keep) {
    std::filesystem::resize_file(path, keep);
}

/// Byte-level NIfTI-1 single-file builder (header fields at their nifti1.h offsets).
struct RawNifti {
    bool big_endian = false;
    int16_t dim[8] = {3, 4, 3, 2, 1, 1, 1, 1};
    int16_t datatype = 4;  // INT16
    int16_t bitpix = 16;
    float pixdim[8] = {1, 1, 1, 1, 0, 0, 0, 0};
    float vox_offset = 352;
    float scl_slope = 1, scl_inter = 0;
    int16_t qform_code = 0, sform_code = 1;
    float quatern[3] = {0, 0, 0}, qoffset[3] = {0, 0, 0};
    float srow[3][4] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}};
    int32_t sizeof_hdr = 348;
    char magic[4] = {'n', '+', '1', '\0'};
    std::string data;  ///< raw voxel bytes, already in the file's byte order

    template <class T>
    void put(std::string& s, size_t off, T v) const {
        unsigned char b[sizeof(T)];
        std::memcpy(b, &v, sizeof(T));
        if (big_endian)
            for (size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
        std::memcpy(&s[off], b, sizeof(T));
    }
    /// Voxel values encoded in the file's byte order.
    template <class T>
    void set_values(const std::vector<T>& v) {
        data.assign(v.size() * sizeof(T), '\0');
        for (size_t i = 0; i < v.size(); ++i) {
            std::string tmp(sizeof(T), '\0');
            put(tmp, 0, v[i]);
            std::memcpy(&data[i * sizeof(T)], tmp.data(), sizeof(T));
        }
    }
    std::string bytes() const {
        std::string s(352, '\0');
        put(s, 0, sizeof_hdr);
        for (int i = 0; i < 8; ++i) put(s, 40 + 2 * static_cast<size_t>(i), dim[i]);
        put(s, 70, datatype);
        put(s, 72, bitpix);
        for (int i = 0; i < 8; ++i) put(s, 76 + 4 * static_cast<size_t>(i), pixdim[i]);
        put(s, 108, vox_offset);
        put(s, 112, scl_slope);
        put(s, 116, scl_inter);
        put<char>(s, 123, 10);  // xyzt_units: mm + s
        put(s, 252, qform_code);
        put(s, 254, sform_code);
        for (int i = 0; i < 3; ++i) put(s, 256 + 4 * static_cast<size_t>(i), quatern[i]);
        for (int i = 0; i < 3; ++i) put(s, 268 + 4 * static_cast<size_t>(i), qoffset[i]);
        for (int r = 0; r < 3; ++r)
            for (int c = 0; c < 4; ++c) put(s, 280 + 16 * static_cast<size_t>(r) + 4 * static_cast<size_t>(c), srow[r][c]);
        std::memcpy(&s[344], magic, 4);
        if (vox_offset > 352) s.resize(static_cast<size_t>(vox_offset), '\0');
        return s + data;
    }
};

/// Collects log messages while alive (and silences stderr).
class LogCapture {
public:
    LogCapture() {
        prev_level_ = io::log_level();
        io::set_log_level(io::LogLevel::debug);
        prev_ = io::set_log_sink([this](io::LogLevel, const std::string& m) { messages_.push_back(m); });
    }
    ~LogCapture() {
        io::set_log_sink(prev_);
        io::set_log_level(prev_level_);
    }
    const std::vector<std::string>& messages() const { return messages_; }
    bool contains(const std::string& s) const {
        for (const auto& m : messages_)
            if (m.find(s) != std::string::npos) return true;
        return false;
    }

private:
    io::LogSink prev_;
    io::LogLevel prev_level_;
    std::vector<std::string> messages_;
};

}  // namespace ichseg::test
