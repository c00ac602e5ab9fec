/// @file gemm.hpp
/// @brief Row-major matrix products on the CPU through Eigen's GEMM kernels, single-threaded per call
/// (callers split work across threads themselves so that results do not depend on scheduling).
#pragma once

#include "ichseg/config.hpp"
#include "ichseg/core/eigen.hpp"
#include <cstdint>

namespace ichseg::cpu {

/// C = alpha * op(A) * op(B) + beta * C, all row-major with leading dimensions lda, ldb, ldc.
/// op(A) is M x K (A is K x M when trans_a), op(B) is K x N (B is N x K when trans_b). beta is 0 or 1.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
          int64_t ldb, T beta, T* C, int64_t ldc) {
    using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using Str = Eigen::OuterStride<>;
    if (M == 0 || N == 0) return;
    Eigen::Map<Mat, 0, Str> c(C, M, N, Str(ldc));
    if (K == 0) {
        if (beta == T(0)) c.setZero();
        return;
    }
    auto run = [&](const auto& a, const auto& b) {
        if (beta == T(0)) c.noalias() = alpha * (a * b);
        else c.noalias() += alpha * (a * b);
    };
    Eigen::Map<const Mat, 0, Str> a(A, trans_a ? K : M, trans_a ? M : K, Str(lda));
    Eigen::Map<const Mat, 0, Str> b(B, trans_b ? N : K, trans_b ? K : N, Str(ldb));
    if (!trans_a && !trans_b) run(a, b);
    else if (trans_a && !trans_b) run(a.transpose(), b);
    else if (!trans_a && trans_b) run(a, b.transpose());
    else run(a.transpose(), b.transpose());
}

}  // namespace ichseg::cpu

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg::cpu {
ICHSEG_EXTERN_TEMPLATE template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                                 const float*, int64_t, float, float*, int64_t);
}  // namespace ichseg::cpu
#endif
