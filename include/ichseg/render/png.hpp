/// @file png.hpp
/// @brief PNG encoder for RGB8 images (zlib for the deflate stream and the chunk CRC-32), written atomically.
/// Truecolour 8-bit, no interlace; each scanline takes the filter (None, Sub, Up, Average, Paeth) with the
/// smallest sum of absolute filtered bytes (the heuristic of the PNG specification, §12.8).
///
/// Link zlib (CMake: `find_package(ZLIB)` and `ZLIB::ZLIB`) in any target that includes this header.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/render/canvas.hpp"
#include "ichseg/io/atomic_file.hpp"

namespace ichseg::render {

namespace detail {
inline void put_u32_be(std::string& out, uint32_t v) {
    out.push_back(static_cast<char>(v >> 24));
    out.push_back(static_cast<char>(v >> 16));
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v));
}

/// Append one chunk: length, type, data, CRC-32 over type + data.
inline void put_chunk(std::string& out, const char type[4], const std::string& data) {
    put_u32_be(out, static_cast<uint32_t>(data.size()));
    const std::size_t start = out.size();
    out.append(type, 4);
    out += data;
    const uLong crc = ::crc32(0L, reinterpret_cast<const Bytef*>(out.data() + start), static_cast<uInt>(4 + data.size()));
    put_u32_be(out, static_cast<uint32_t>(crc));
}

inline uint8_t paeth(int a, int b, int c) {
    const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
    if (pa <= pb && pa <= pc) return static_cast<uint8_t>(a);
    if (pb <= pc) return static_cast<uint8_t>(b);
    return static_cast<uint8_t>(c);
}
}  // namespace detail

/// The bytes of a PNG file holding the image. `compression_level` is zlib's 0..9.
inline std::string encode_png(const Image& img, int compression_level = 6) {
    ICHSEG_CHECK(img.width > 0 && img.height > 0, "encode_png: empty image ", img.width, "x", img.height);
    ICHSEG_CHECK(img.rgb.size() == static_cast<std::size_t>(img.width) * img.height * 3, "encode_png: image ",
                 img.width, "x", img.height, " needs ", static_cast<std::size_t>(img.width) * img.height * 3,
                 " RGB bytes, has ", img.rgb.size());
    ICHSEG_CHECK(compression_level >= 0 && compression_level <= 9, "encode_png: compression level ",
                 compression_level, " outside 0..9");
    const std::size_t stride = static_cast<std::size_t>(img.width) * 3;
    constexpr int bpp = 3;
    std::vector<uint8_t> raw;
    raw.reserve((stride + 1) * img.height);
    std::vector<uint8_t> cand[5];
    for (auto& c : cand) c.resize(stride);
    const std::vector<uint8_t> zero(stride, 0);
    for (int y = 0; y < img.height; ++y) {
        const uint8_t* cur = img.rgb.data() + y * stride;
        const uint8_t* up = y > 0 ? img.rgb.data() + (y - 1) * stride : zero.data();
        for (std::size_t i = 0; i < stride; ++i) {
            const int a = i >= bpp ? cur[i - bpp] : 0, b = up[i], c = i >= bpp ? up[i - bpp] : 0;
            cand[0][i] = cur[i];
            cand[1][i] = static_cast<uint8_t>(cur[i] - a);
            cand[2][i] = static_cast<uint8_t>(cur[i] - b);
            cand[3][i] = static_cast<uint8_t>(cur[i] - ((a + b) >> 1));
            cand[4][i] = static_cast<uint8_t>(cur[i] - detail::paeth(a, b, c));
        }
        int best = 0;
        uint64_t best_sum = UINT64_MAX;
        for (int f = 0; f < 5; ++f) {
            uint64_t s = 0;
            for (uint8_t v : cand[f]) s += static_cast<uint64_t>(v < 128 ? v : 256 - v);
            if (s < best_sum) {
                best_sum = s;
                best = f;
            }
        }
        raw.push_back(static_cast<uint8_t>(best));
        raw.insert(raw.end(), cand[best].begin(), cand[best].end());
    }
    uLongf zlen = ::compressBound(static_cast<uLong>(raw.size()));
    std::string z(zlen, '\0');
    const int rc = ::compress2(reinterpret_cast<Bytef*>(&z[0]), &zlen, raw.data(), static_cast<uLong>(raw.size()),
                               compression_level);
    ICHSEG_CHECK(rc == Z_OK, "encode_png: zlib compress2 failed with code ", rc);
    z.resize(zlen);

    std::string out("\x89PNG\r\n\x1a\n", 8);
    std::string ihdr;
    detail::put_u32_be(ihdr, static_cast<uint32_t>(img.width));
    detail::put_u32_be(ihdr, static_cast<uint32_t>(img.height));
    ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit, truecolour, deflate, adaptive filter, no interlace
    detail::put_chunk(out, "IHDR", ihdr);
    detail::put_chunk(out, "tEXt", std::string("Software") + '\0' + "ichseg");
    detail::put_chunk(out, "IDAT", z);
    detail::put_chunk(out, "IEND", std::string());
    return out;
}

/// Encode and write atomically (temporary file + rename).
inline void write_png(const std::string& path, const Image& img) { io::write_file_atomic(path, encode_png(img)); }

}  // namespace ichseg::render
