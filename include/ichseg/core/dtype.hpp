/// @file dtype.hpp
/// @brief Element types: a bfloat16 storage type and the safetensors dtype name of each supported C++ type.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "ichseg/config.hpp"

namespace ichseg {

/// bfloat16 as 16 bits of storage: the upper half of an IEEE float, rounded to nearest even on conversion.
struct bfloat16 {
    uint16_t bits = 0;
    bfloat16() = default;
    ICHSEG_HOST_DEVICE bfloat16(float f) { bits = from_float(f); }  // NOLINT(google-explicit-constructor)
    ICHSEG_HOST_DEVICE operator float() const {                      // NOLINT(google-explicit-constructor)
        uint32_t u = static_cast<uint32_t>(bits) << 16;
        float f;
        std::memcpy(&f, &u, 4);
        return f;
    }
    static ICHSEG_HOST_DEVICE uint16_t from_float(float f) {
        uint32_t u;
        std::memcpy(&u, &f, 4);
        if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN
        u += 0x7fffu + ((u >> 16) & 1u);
        return static_cast<uint16_t>(u >> 16);
    }
};

/// The safetensors dtype string of T ("F32", "F64", "U8", ...).
template <class T>
constexpr const char* dtype_name() {
    if constexpr (std::is_same_v<T, float>) return "F32";
    else if constexpr (std::is_same_v<T, double>) return "F64";
    else if constexpr (std::is_same_v<T, bfloat16>) return "BF16";
    else if constexpr (std::is_same_v<T, uint8_t>) return "U8";
    else if constexpr (std::is_same_v<T, int8_t>) return "I8";
    else if constexpr (std::is_same_v<T, int16_t>) return "I16";
    else if constexpr (std::is_same_v<T, uint16_t>) return "U16";
    else if constexpr (std::is_same_v<T, int32_t>) return "I32";
    else if constexpr (std::is_same_v<T, uint32_t>) return "U32";
    else if constexpr (std::is_same_v<T, int64_t>) return "I64";
    else if constexpr (std::is_same_v<T, uint64_t>) return "U64";
    else if constexpr (std::is_same_v<T, bool>) return "BOOL";
    else static_assert(sizeof(T) == 0, "ichseg: unsupported tensor element type");
}

}  // namespace ichseg
