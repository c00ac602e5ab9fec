/// @file common.hpp (cpu)
/// @brief The CPU backend's `supports`: every CPU kernel runs for float and double (the element types the ops
/// accept at compile time) and indexes with 64-bit integers, so one template answers for every op's params
/// struct. An op with a CPU-only restriction overloads `cpu::supports<T>(const XGeometry&)` in cpu/X.hpp.
#pragma once

#include <type_traits>

#include "ichseg/params/common.hpp"

namespace ichseg::cpu {

template <class T, class Params>
Support supports(const Params&) {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) return Support::yes();
    else return Support::no("the CPU kernels compute in float or double");
}

}  // namespace ichseg::cpu
