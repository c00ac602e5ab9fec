/// @file eigen.hpp
/// @brief The one way ichseg includes Eigen. GCC 12's AVX-512 intrinsic headers trip -Wmaybe-uninitialized /
/// -Wuninitialized on their own `__Y = __Y` idiom (GCC bug 105593, fixed in GCC 13) once Eigen's GEMM kernel
/// inlines them under -march with AVX-512: thousands of false positives per build on AVX-512 CPUs. The
/// intrinsics header is included first with those two warnings off for ITS lines only (GCC attributes the
/// warning to the header's own line, so the pragma region covers exactly them); the project's code keeps both.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13 && (defined(__x86_64__) || defined(__i386__))
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

#include <Eigen/Core>
