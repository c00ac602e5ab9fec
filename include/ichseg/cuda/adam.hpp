/// @file adam.hpp (cuda)
/// @brief The Adam update of a CUDA parameter (params/adam.hpp has the formula): one element-wise kernel
/// (kernels/adam.cu), FP32 parameters and moments (the master weights are always FP32), same arithmetic order as
/// the CPU.
#pragma once

#include "ichseg/cuda/common.hpp"
#include "ichseg/params/adam.hpp"

namespace ichseg::cuda {

namespace launch {
/// m += (1 - b1)(g' - m); v = v b2 + (1 - b2) g'^2; p -= step_size m / (sqrt(v) / bc2_sqrt + eps), g' = g + wd p.
/// one_minus_b1 / one_minus_b2 are computed in double by the caller and then rounded, as on the CPU.
void adam_update(int64_t n, float* p, const float* g, float* m, float* v, float one_minus_b1, float b2,
                 float one_minus_b2, float wd, float step_size, float bc2_sqrt, float eps);
}  // namespace launch

/// An element-wise kernel with a 64-bit grid-stride loop: any size, float only.
template <class T>
Support supports(const AdamStep<T>&) {
    return supports_dtype<T>();
}

/// p, m, v (contiguous, on p's device) updated in place from g.
template <class T>
void adam_update(Tensor<T>& p, const Tensor<T>& g_in, Tensor<T>& m, Tensor<T>& v, const AdamStep<T>& s) {
    const char* op = "adam_update";
    detail::require_float<T>(op);
    const Device dev = p.device();
    detail::device_input(op, p, dev);
    detail::device_input(op, m, dev);
    detail::device_input(op, v, dev);
    const Tensor<T> g = detail::device_input(op, g_in, dev);
    if constexpr (std::is_same_v<T, float>)
        launch::adam_update(p.numel(), p.data(), g.data(), m.data(), v.data(), s.one_minus_b1, s.b2, s.one_minus_b2,
                            s.wd, s.step_size, s.bc2_sqrt, s.eps);
}

}  // namespace ichseg::cuda
