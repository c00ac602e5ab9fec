/// @file mse.hpp
/// @brief Mean squared error over all elements: L = mean((y - t)^2), dL/dy = 2 (y - t) / n.
///   mse_loss_value_and_grad(y, t) -> {loss, {dL/dy}} (the fused entry point, either device);
///   mse_loss(Var): the tape node.  Kernels: cpu/mse.hpp, cuda/mse.hpp (kernels/mse.cu).
#pragma once

#include "ichseg/cpu/mse.hpp"
#include "ichseg/loss/common.hpp"
#include "ichseg/params/mse.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/mse.hpp"
#endif

namespace ichseg {

/// Validates the shapes; the geometry both backends take.
template <class T>
MseGeometry mse_geometry(const Tensor<T>& y, const Tensor<T>& t) {
    detail::check_same_shape("mse_loss", "prediction", y, "target", t);
    ICHSEG_CHECK(y.numel() > 0, "mse_loss: empty input");
    return {y.numel()};
}

template <class T>
LossAndGrad<T> mse_loss_value_and_grad(const Tensor<T>& y, const Tensor<T>& t) {
    detail::static_check_float<T>();
    const char* op = "mse_loss";
    const MseGeometry g = mse_geometry(y, t);
    const Device dev = detail::op_device(op, {&y, &t});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda()) {
        detail::require_support<T>(op, dev, cuda::supports<T>(g));
        auto [v, grad] = cuda::mse_loss_value_and_grad(g, y, t);
        return {v, {grad}};
    }
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> yc = detail::cpu_input(op, y), tc = detail::cpu_input(op, t);
    Tensor<T> grad = Tensor<T>::empty(yc.shape());
    const double v = cpu::mse_loss_value_and_grad(g, yc.data(), tc.data(), grad.data());
    return {v, {grad}};
}

template <class T>
Var<T> mse_loss(const Var<T>& y, const Tensor<T>& target) {
    return detail::record_loss<T>("mse_loss", mse_loss_value_and_grad(y.value(), target), {&y});
}

}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg {
ICHSEG_EXTERN_TEMPLATE template LossAndGrad<float> mse_loss_value_and_grad<float>(const Tensor<float>&,
                                                                                  const Tensor<float>&);
ICHSEG_EXTERN_TEMPLATE template Var<float> mse_loss<float>(const Var<float>&, const Tensor<float>&);
}  // namespace ichseg
#endif
