/// @file linear.hpp (cuda)
/// @brief CUDA fully connected layer y = x W^T + b and its backward, on a row-major GEMM: ichseg's tiled kernel
/// (FP32 FMA; TF32 operands in TF32/BF16 precision) or cuBLAS (loaded at run time), per gemm_backend().
/// Kernels: kernels/linear.cu.
#pragma once

#include "ichseg/autograd/variable.hpp"
#include "ichseg/cuda/conv2d.hpp"

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

template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& w, const Var<T>& b) {
    detail::require_float<T>("linear");
    const char* op = "linear";
    const Device dev = x.device();
    Tensor<T> xc = detail::device_input(op, x.value(), dev), wc = detail::device_input(op, w.value(), dev);
    const int64_t N = xc.size(0), in = xc.size(1), out = wc.size(0);
    Tensor<T> y = Tensor<T>::empty({N, out}, dev);
    const Precision prec = precision();
    const GemmBackend gb = gemm_backend();
    if constexpr (std::is_same_v<T, float>) {
        launch::gemm(false, true, N, out, in, 1.f, xc.data(), in, wc.data(), in, 0.f, y.data(), out, prec, gb);
        if (b.defined()) launch::add_row_bias(N, out, detail::device_input(op, b.value(), dev).data(), y.data());
    }
    const bool has_b = b.defined();
    return record<T>("linear", y, {&x, &w, &b}, [xc, wc, N, in, out, has_b, dev](const Tensor<T>& gy_in) {
        Tensor<T> gy = detail::device_input("linear_bwd", gy_in, dev);
        Tensor<T> dx = Tensor<T>::empty({N, in}, dev), dw = Tensor<T>::empty({out, in}, dev), db;
        if constexpr (std::is_same_v<T, float>) {
            const Precision p = precision();
            const GemmBackend g = gemm_backend();
            launch::gemm(false, false, N, in, out, 1.f, gy.data(), out, wc.data(), in, 0.f, dx.data(), in, p, g);
            launch::gemm(true, false, out, in, N, 1.f, gy.data(), out, xc.data(), in, 0.f, dw.data(), in, p, g);
            if (has_b) {
                db = Tensor<T>::empty({out}, dev);
                launch::column_sum(N, out, gy.data(), db.data());
            }
        }
        return std::vector<Tensor<T>>{dx, dw, db};
    });
}

}  // namespace ichseg::cuda
