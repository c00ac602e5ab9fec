/// @file accumulate.hpp (cuda)
/// @brief dst += src for CUDA tensors: the autograd tape's gradient accumulation (autograd/variable.hpp) and the
/// loss nodes' gradient scaling. Kept free of autograd includes because variable.hpp includes it.
#pragma once

#include <type_traits>

#include "ichseg/core/tensor.hpp"

namespace ichseg::cuda {

namespace launch {
/// d[i] += s[i]
void accumulate(int64_t n, float* d, const float* s);
/// y[i] = a[i] * s
void scale(int64_t n, const float* a, float s, float* y);
}  // namespace launch

/// dst = dst + g on the device of dst, in place when dst's buffer is not shared (the tape's rule).
template <class T>
void accumulate(Tensor<T>& dst, const Tensor<T>& g) {
    if constexpr (!std::is_same_v<T, float>) {
        fail("autograd: gradient accumulation of ", dtype_name<T>(), " tensors on CUDA is not supported");
    } else {
        ICHSEG_CHECK(g.device() == dst.device(), "autograd: gradient on ", g.device().str(),
                     " cannot be added to a gradient on ", dst.device().str());
        ICHSEG_CHECK(g.is_contiguous(), "autograd: strided CUDA gradient ", describe(g));
        if (!dst.owns_buffer_exclusively() || !dst.is_contiguous()) dst = dst.clone();
        launch::accumulate(dst.numel(), dst.data(), g.data());
    }
}

/// g * s as a new tensor on g's device.
template <class T>
Tensor<T> scaled(const Tensor<T>& g, T s) {
    if constexpr (!std::is_same_v<T, float>) {
        fail("scaling ", dtype_name<T>(), " tensors on CUDA is not supported");
    } else {
        Tensor<T> o = Tensor<T>::empty(g.shape(), g.device());
        launch::scale(g.numel(), g.data(), s, o.data());
        return o;
    }
}

}  // namespace ichseg::cuda
