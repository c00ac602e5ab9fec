/// @file config.hpp
/// @brief Version, host/device markers, a build summary (`ichseg::build_info()`), the extern-template switch.
#pragma once

#include <string>

#define ICHSEG_VERSION_MAJOR 0
#define ICHSEG_VERSION_MINOR 1
#define ICHSEG_VERSION_PATCH 0

// Functions usable from both host code and CUDA kernels: plain inline for a g++ translation unit.
#if defined(__CUDACC__)
#define ICHSEG_HOST_DEVICE __host__ __device__ inline
#else
#define ICHSEG_HOST_DEVICE inline
#endif

#ifndef ICHSEG_WITH_CUDA
#define ICHSEG_WITH_CUDA 0
#endif

namespace ichseg {

/// One line that says how this translation unit was built: version, CUDA, OpenMP, vector ISA.
inline std::string build_info() {
    std::string s = "ichseg " + std::to_string(ICHSEG_VERSION_MAJOR) + "." + std::to_string(ICHSEG_VERSION_MINOR) +
                    "." + std::to_string(ICHSEG_VERSION_PATCH);
    s += ICHSEG_WITH_CUDA ? " | CUDA backend: linked" : " | CUDA backend: not built";
#ifdef _OPENMP
    s += " | OpenMP: on";
#else
    s += " | OpenMP: off (single-threaded)";
#endif
#if defined(__AVX512F__)
    s += " | ISA: AVX-512";
#elif defined(__AVX2__)
    s += " | ISA: AVX2";
#else
    s += " | ISA: baseline";
#endif
    return s;
}

}  // namespace ichseg

// ICHSEG_EXTERN_TEMPLATES=1 (an INTERFACE definition of the CMake target ichseg::float): the float instantiations
// of the library's templates (the module classes, the ops and losses at both levels, Adam, the heavy CPU kernels)
// are declared `extern template` and taken from the compiled library instead of being compiled again in every
// translation unit. Each header that has such templates ends with a block
//   #if ICHSEG_EXTERN_TEMPLATES
//   ICHSEG_EXTERN_TEMPLATE template class Conv2d<float>;
//   #endif
// ICHSEG_EXTERN_TEMPLATE is `extern` for a consumer; the library's source (src/ichseg_float.cpp) sets it empty, so
// each block is the one list of both the declarations and the definitions. A block goes at the end of a header
// that the umbrella ichseg.hpp reaches (the library includes the umbrella).
// Without the macro (the default) the headers are used as they always were: header-only, nothing to link.
#ifndef ICHSEG_EXTERN_TEMPLATES
#define ICHSEG_EXTERN_TEMPLATES 0
#endif
#ifndef ICHSEG_EXTERN_TEMPLATE
#define ICHSEG_EXTERN_TEMPLATE extern
#endif
