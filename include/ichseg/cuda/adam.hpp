/// @file adam.hpp (cuda)
/// @brief The Adam update of optim/adam.hpp for a CUDA parameter: one element-wise kernel
/// (kernels/adam.cu), FP32 parameters and moments (the master weights are always FP32), same arithmetic order.
#pragma once

#include "ichseg/cuda/conv2d.hpp"

namespace ichseg::cuda {

namespace launch {
/// m += (1 - b1)(g' - m); v = v b2 + (1 - b2) g'^2; p -= step_size m / (sqrt(v) / bc2_sqrt + eps), g' = g + wd p.
/// one_minus_b1 / one_minus_b2 are computed in double by the caller and then rounded, as on the CPU.
void adam_update(int64_t n, float* p, const float* g, float* m, float* v, float one_minus_b1, float b2,
                 float one_minus_b2, float wd, float step_size, float bc2_sqrt, float eps);
}  // namespace launch

/// m, v are created (zeros, on p's device) on first use.
template <class T>
void adam_update(Tensor<T>& p, const Tensor<T>& g_in, Tensor<T>& m, Tensor<T>& v, T one_minus_b1, T b2,
                 T one_minus_b2, T wd, T step_size, T bc2_sqrt, T eps) {
    detail::require_float<T>("Adam");
    const Device dev = p.device();
    ICHSEG_CHECK(p.is_contiguous(), "Adam: CUDA parameter ", describe(p), " is not contiguous");
    Tensor<T> g = detail::device_input("Adam", g_in, dev);
    if (!m.defined()) {
        m = Tensor<T>::zeros(p.shape(), dev);
        v = Tensor<T>::zeros(p.shape(), dev);
    }
    if (m.device() != dev) m = m.to(dev), v = v.to(dev);
    if constexpr (std::is_same_v<T, float>)
        launch::adam_update(p.numel(), p.data(), g.data(), m.data(), v.data(), one_minus_b1, b2, one_minus_b2, wd,
                            step_size, bc2_sqrt, eps);
}

}  // namespace ichseg::cuda
