/// @file eval_test_util.hpp (tests)
/// @brief Helpers of the evaluation tests: an output folder for generated files (kept in the build tree so the
/// figures can be looked at) and an independent PNG reader (own CRC-32 table, zlib inflate,
/// all five scanline filters) used to check the encoder.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/files.hpp"

namespace ichseg::test {

/// <build>/tests/eval_output/<sub>, created on demand.
inline std::string eval_output_dir(const std::string& sub = "") {
    std::filesystem::path p = std::filesystem::path(ICHSEG_TEST_BINARY_DIR) / "eval_output";
    if (!sub.empty()) p /= sub;
    std::filesystem::create_directories(p);
    return p.string();
}

/// CRC-32 (ISO-HDLC, the PNG/zlib polynomial 0xEDB88320), bitwise table, independent of zlib's crc32.
inline uint32_t crc32_reference(const unsigned char* p, std::size_t n) {
    static uint32_t table[256];
    static bool init = false;
    if (!init) {
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        init = true;
    }
    uint32_t c = 0xFFFFFFFFu;
    for (std::size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

struct DecodedPng {
    bool ok = false;
    std::string error;
    int width = 0, height = 0, bit_depth = 0, color_type = 0;
    std::vector<std::string> chunk_types;
    std::vector<uint8_t> rgb;
};

/// Parse and decode an 8-bit truecolour non-interlaced PNG, checking the signature and every chunk CRC.
inline DecodedPng decode_png(const std::string& bytes) {
    DecodedPng d;
    auto u32 = [&](std::size_t o) {
        return (uint32_t(uint8_t(bytes[o])) << 24) | (uint32_t(uint8_t(bytes[o + 1])) << 16) |
               (uint32_t(uint8_t(bytes[o + 2])) << 8) | uint32_t(uint8_t(bytes[o + 3]));
    };
    if (bytes.size() < 8 || bytes.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) != 0) {
        d.error = "bad signature";
        return d;
    }
    std::string idat;
    std::size_t o = 8;
    while (o + 12 <= bytes.size()) {
        const uint32_t len = u32(o);
        if (o + 12 + len > bytes.size()) {
            d.error = "truncated chunk";
            return d;
        }
        const std::string type = bytes.substr(o + 4, 4);
        const uint32_t crc = u32(o + 8 + len);
        if (crc != crc32_reference(reinterpret_cast<const unsigned char*>(bytes.data() + o + 4), 4 + len)) {
            d.error = "CRC mismatch in chunk " + type;
            return d;
        }
        d.chunk_types.push_back(type);
        if (type == "IHDR") {
            d.width = static_cast<int>(u32(o + 8));
            d.height = static_cast<int>(u32(o + 12));
            d.bit_depth = uint8_t(bytes[o + 16]);
            d.color_type = uint8_t(bytes[o + 17]);
        } else if (type == "IDAT") {
            idat += bytes.substr(o + 8, len);
        }
        o += 12 + len;
        if (type == "IEND") break;
    }
    if (o != bytes.size()) {
        d.error = "bytes after IEND or truncated file";
        return d;
    }
    if (d.bit_depth != 8 || d.color_type != 2) {
        d.error = "not 8-bit RGB";
        return d;
    }
    const std::size_t stride = static_cast<std::size_t>(d.width) * 3;
    std::vector<uint8_t> raw((stride + 1) * d.height);
    uLongf rawlen = static_cast<uLongf>(raw.size());
    if (uncompress(raw.data(), &rawlen, reinterpret_cast<const Bytef*>(idat.data()), static_cast<uLong>(idat.size())) !=
            Z_OK ||
        rawlen != raw.size()) {
        d.error = "zlib inflate failed or wrong size";
        return d;
    }
    d.rgb.assign(stride * d.height, 0);
    for (int y = 0; y < d.height; ++y) {
        const uint8_t f = raw[y * (stride + 1)];
        const uint8_t* in = &raw[y * (stride + 1) + 1];
        uint8_t* cur = &d.rgb[y * stride];
        const uint8_t* up = y > 0 ? &d.rgb[(y - 1) * stride] : nullptr;
        for (std::size_t i = 0; i < stride; ++i) {
            const int a = i >= 3 ? cur[i - 3] : 0, b = up ? up[i] : 0, c = (up && i >= 3) ? up[i - 3] : 0;
            int pred = 0;
            switch (f) {
                case 0: pred = 0; break;
                case 1: pred = a; break;
                case 2: pred = b; break;
                case 3: pred = (a + b) / 2; break;
                case 4: {
                    const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
                    pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
                    break;
                }
                default: d.error = "unknown filter type"; return d;
            }
            cur[i] = static_cast<uint8_t>(in[i] + pred);
        }
    }
    d.ok = true;
    return d;
}

}  // namespace ichseg::test
