/// @file linear.hpp (cuda)
/// @brief CUDA fully connected layer y = x W^T + b and its two gradient roles, on a row-major GEMM: ichseg's
/// tiled kernel (FP32 FMA; TF32 operands in TF32/BF16 precision) or cuBLAS (loaded at run time), per
/// gemm_backend(). Kernels: kernels/linear.cu.
#pragma once

#include <utility>

#include "ichseg/cuda/common.hpp"
#include "ichseg/params/linear.hpp"

namespace ichseg::cuda {

namespace launch {
/// C = alpha op(A) op(B) + beta C, row-major; op(A) M x K, op(B) K x N; beta 0 or 1.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc, Precision prec, GemmBackend backend);
/// y[n, o] += b[o]
void add_row_bias(int64_t rows, int64_t cols, const float* b, float* y);
/// db[o] = sum over n of dy[n, o]
void column_sum(int64_t rows, int64_t cols, const float* dy, float* db);
}  // namespace launch

/// float, and matrices within 32-bit indexing (the GEMMs take int sizes and leading dimensions).
template <class T>
Support supports(const LinearGeometry& g) {
    return all_of(supports_dtype<T>(), supports_elements({g.N * g.in, g.out * g.in, g.N * g.out}));
}

/// y (N, out) = x W^T + b (b may be undefined).
template <class T>
Tensor<T> linear_fwd(const LinearGeometry& g, const Tensor<T>& x_in, const Tensor<T>& w_in, const Tensor<T>& b_in) {
    const char* op = "linear_fwd";
    detail::require_float<T>(op);
    const Device dev = x_in.device();
    const Tensor<T> x = detail::device_input(op, x_in, dev), w = detail::device_input(op, w_in, dev);
    const T* b = detail::optional_data(op, b_in, dev);
    Tensor<T> y = Tensor<T>::empty({g.N, g.out}, dev);
    if constexpr (std::is_same_v<T, float>) {
        launch::gemm(false, true, g.N, g.out, g.in, 1.f, x.data(), g.in, w.data(), g.in, 0.f, y.data(), g.out,
                     precision(), gemm_backend());
        if (b) launch::add_row_bias(g.N, g.out, b, y.data());
    }
    return y;
}

/// dx (N, in) = dy W.
template <class T>
Tensor<T> linear_dgrad(const LinearGeometry& g, const Tensor<T>& dy_in, const Tensor<T>& w_in) {
    const char* op = "linear_dgrad";
    detail::require_float<T>(op);
    const Device dev = dy_in.device();
    const Tensor<T> dy = detail::device_input(op, dy_in, dev), w = detail::device_input(op, w_in, dev);
    Tensor<T> dx = Tensor<T>::empty({g.N, g.in}, dev);
    if constexpr (std::is_same_v<T, float>)
        launch::gemm(false, false, g.N, g.in, g.out, 1.f, dy.data(), g.out, w.data(), g.in, 0.f, dx.data(), g.in,
                     precision(), gemm_backend());
    return dx;
}

/// {dW (out, in) = dy^T x, db (out) = column sums of dy}; db undefined when with_bias is false.
template <class T>
std::pair<Tensor<T>, Tensor<T>> linear_wgrad(const LinearGeometry& g, const Tensor<T>& dy_in, const Tensor<T>& x_in,
                                             bool with_bias) {
    const char* op = "linear_wgrad";
    detail::require_float<T>(op);
    const Device dev = dy_in.device();
    const Tensor<T> dy = detail::device_input(op, dy_in, dev), x = detail::device_input(op, x_in, dev);
    Tensor<T> dw = Tensor<T>::empty({g.out, g.in}, dev), db;
    if (with_bias) db = Tensor<T>::empty({g.out}, dev);
    if constexpr (std::is_same_v<T, float>) {
        launch::gemm(true, false, g.out, g.in, g.N, 1.f, dy.data(), g.out, x.data(), g.in, 0.f, dw.data(), g.in,
                     precision(), gemm_backend());
        if (with_bias) launch::column_sum(g.N, g.out, dy.data(), db.data());
    }
    return {dw, db};
}

}  // namespace ichseg::cuda
