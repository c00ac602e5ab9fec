/// @file mse.hpp (cuda)
/// @brief CUDA fused mean squared error (contract: loss/mse.hpp): the tensor-level launcher that loss/mse.hpp
/// dispatches to for CUDA tensors, its supports() and the launch:: declaration (kernels/mse.cu). One kernel;
/// block partials in double added on the host in block order.
#pragma once

#include <utility>

#include "ichseg/cuda/common.hpp"
#include "ichseg/params/mse.hpp"

namespace ichseg::cuda {

namespace launch {
/// y, t (n elements); writes grad = 2 (y - t) / n; returns mean (y - t)^2.
double mse_loss_value_and_grad(const MseGeometry& g, const float* y, const float* t, float* grad);
}  // namespace launch

/// float (the element index is 64-bit: no size limit of its own).
template <class T>
Support supports(const MseGeometry&) {
    return supports_dtype<T>();
}

/// {loss, dL/dy} for y and target of the same shape on one CUDA device.
template <class T>
std::pair<double, Tensor<T>> mse_loss_value_and_grad(const MseGeometry& g, const Tensor<T>& y_in,
                                                     const Tensor<T>& t_in) {
    const char* op = "mse_loss";
    detail::require_float<T>(op);
    const Device dev = y_in.device();
    const Tensor<T> y = detail::device_input(op, y_in, dev), t = detail::device_input(op, t_in, dev);
    Tensor<T> grad = Tensor<T>::empty(y.shape(), dev);
    double v = 0;
    if constexpr (std::is_same_v<T, float>) v = launch::mse_loss_value_and_grad(g, y.data(), t.data(), grad.data());
    return {v, grad};
}

}  // namespace ichseg::cuda
