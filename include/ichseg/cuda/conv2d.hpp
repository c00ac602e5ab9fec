/// @file conv2d.hpp (cuda)
/// @brief CUDA convolution: the launchers (kernels/conv2d_{fprop,dgrad,wgrad}.cu) and the tensor-level entry
/// points that ops/conv2d.hpp (and, through the convolution view, ops/conv_transpose2d.hpp) dispatch to.
///
/// Same contracts as the CPU (NCHW, groups 1): fprop y = conv(x, w) + b; dgrad dx overwritten; wgrad dw and db
/// overwritten. The backend (ichseg implicit GEMM or cuDNN) and the precision are the global settings of
/// cuda/runtime.hpp, read at launch.
#pragma once

#include <algorithm>
#include <utility>

#include "ichseg/cuda/common.hpp"
#include "ichseg/params/conv2d.hpp"

namespace ichseg::cuda {

namespace launch {
void conv2d_fprop(const Conv2dGeometry& g, const float* x, const float* w, const float* b, float* y, Precision prec,
                  ConvBackend backend);
void conv2d_dgrad(const Conv2dGeometry& g, const float* dy, const float* w, float* dx, Precision prec,
                  ConvBackend backend);
/// db may be null. Split-K partial sums are reduced in a fixed order: the result is deterministic.
void conv2d_wgrad(const Conv2dGeometry& g, const float* dy, const float* x, float* dw, float* db, Precision prec,
                  ConvBackend backend);
}  // namespace launch

/// float, and every tensor of the convolution (x, w, y) within 32-bit indexing.
template <class T>
Support supports(const Conv2dGeometry& g) {
    return all_of(supports_dtype<T>(), supports_elements({g.input_numel(), g.weight_numel(), g.output_numel()}));
}

template <class T>
Tensor<T> conv2d_fprop(const Conv2dGeometry& g, const Tensor<T>& x_in, const Tensor<T>& w_in, const Tensor<T>& b_in) {
    const char* op = "conv2d_fprop";
    detail::require_float<T>(op);
    const Device dev = x_in.device();
    const Tensor<T> x = detail::device_input(op, x_in, dev), w = detail::device_input(op, w_in, dev);
    const T* b = detail::optional_data(op, b_in, dev);
    Tensor<T> y = Tensor<T>::empty({g.N, g.K, g.P, g.Q}, dev);
    if constexpr (std::is_same_v<T, float>)
        launch::conv2d_fprop(g, x.data(), w.data(), b, y.data(), precision(), conv_backend());
    return y;
}

template <class T>
Tensor<T> conv2d_dgrad(const Conv2dGeometry& g, const Tensor<T>& dy_in, const Tensor<T>& w_in) {
    const char* op = "conv2d_dgrad";
    detail::require_float<T>(op);
    const Device dev = dy_in.device();
    const Tensor<T> dy = detail::device_input(op, dy_in, dev), w = detail::device_input(op, w_in, dev);
    Tensor<T> dx = Tensor<T>::empty({g.N, g.C, g.H, g.W}, dev);
    if constexpr (std::is_same_v<T, float>)
        launch::conv2d_dgrad(g, dy.data(), w.data(), dx.data(), precision(), conv_backend());
    return dx;
}

/// {dw, db}; db undefined when with_bias is false.
template <class T>
std::pair<Tensor<T>, Tensor<T>> conv2d_wgrad(const Conv2dGeometry& g, const Tensor<T>& dy_in, const Tensor<T>& x_in,
                                             bool with_bias) {
    const char* op = "conv2d_wgrad";
    detail::require_float<T>(op);
    const Device dev = dy_in.device();
    const Tensor<T> dy = detail::device_input(op, dy_in, dev), x = detail::device_input(op, x_in, dev);
    Tensor<T> dw = Tensor<T>::empty({g.K, g.C, g.R, g.S}, dev), db;
    if (with_bias) db = Tensor<T>::empty({g.K}, dev);
    if constexpr (std::is_same_v<T, float>)
        launch::conv2d_wgrad(g, dy.data(), x.data(), dw.data(), with_bias ? db.data() : nullptr, precision(),
                             conv_backend());
    return {dw, db};
}

}  // namespace ichseg::cuda
