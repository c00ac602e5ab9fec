/// @file softmax.hpp (cuda)
/// @brief CUDA softmax over the last dimension: one warp per row (max, exp-sum, normalise), backward
/// dx = y (dy - sum dy y). Kernels: kernels/softmax.cu.
#pragma once

#include "ichseg/autograd/variable.hpp"
#include "ichseg/cuda/conv2d.hpp"

namespace ichseg::cuda {

namespace launch {
void softmax_fwd(int64_t rows, int64_t K, const float* x, float* y);
void softmax_bwd(int64_t rows, int64_t K, const float* dy, const float* y, float* dx);
}  // namespace launch

template <class T>
Var<T> softmax(const Var<T>& x) {
    detail::require_float<T>("softmax");
    Tensor<T> xc = detail::device_input("softmax", x.value(), x.device());
    const int64_t K = xc.size(-1), rows = xc.numel() / std::max<int64_t>(K, 1);
    Tensor<T> y = Tensor<T>::empty(xc.shape(), xc.device());
    if constexpr (std::is_same_v<T, float>) launch::softmax_fwd(rows, K, xc.data(), y.data());
    return record<T>("softmax", y, {&x}, [y, K, rows](const Tensor<T>& gy_in) {
        Tensor<T> gy = detail::device_input("softmax_bwd", gy_in, y.device());
        Tensor<T> dx = Tensor<T>::empty(y.shape(), y.device());
        if constexpr (std::is_same_v<T, float>) launch::softmax_bwd(rows, K, gy.data(), y.data(), dx.data());
        return std::vector<Tensor<T>>{dx};
    });
}

}  // namespace ichseg::cuda
