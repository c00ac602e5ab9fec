/// @file sigmoid.hpp
/// @brief Logistic sigmoid: y = 1 / (1 + exp(-x)); dx = dy * y * (1 - y).
///   sigmoid_fwd(x) -> y;  sigmoid_bwd(dy, y) -> dx  (tensor-level, either device);  sigmoid(Var): the tape node.
/// Kernels: cpu/pointwise.hpp, cuda/pointwise.hpp (kernels/sigmoid.cu).
#pragma once

#include "ichseg/cpu/pointwise.hpp"
#include "ichseg/ops/common.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/pointwise.hpp"
#endif

namespace ichseg {

template <class T>
Tensor<T> sigmoid_fwd(const Tensor<T>& x) {
    detail::static_check_float<T>();
    const char* op = "sigmoid_fwd";
    ICHSEG_CHECK(x.defined(), op, ": input is undefined");
    const PointwiseGeometry g{x.numel()};
    const Device dev = detail::op_device(op, {&x});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda()) {
        detail::require_support<T>(op, dev, cuda::supports<T>(g));
        return cuda::sigmoid_fwd(x);
    }
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> xc = detail::cpu_input(op, x);
    Tensor<T> y = Tensor<T>::empty(xc.shape());
    cpu::sigmoid_fwd(g.n, xc.data(), y.data());
    return y;
}

/// dx = dy y (1 - y); y is sigmoid_fwd's output.
template <class T>
Tensor<T> sigmoid_bwd(const Tensor<T>& dy, const Tensor<T>& y) {
    detail::static_check_float<T>();
    const char* op = "sigmoid_bwd";
    detail::check_same_shape(op, "dy", dy, "y", y);
    const PointwiseGeometry g{dy.numel()};
    const Device dev = detail::op_device(op, {&dy, &y});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda()) {
        detail::require_support<T>(op, dev, cuda::supports<T>(g));
        return cuda::sigmoid_bwd(dy, y);
    }
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> dyc = detail::cpu_input(op, dy), yc = detail::cpu_input(op, y);
    Tensor<T> dx = Tensor<T>::empty(yc.shape());
    cpu::sigmoid_bwd(g.n, dyc.data(), yc.data(), dx.data());
    return dx;
}

template <class T>
Var<T> sigmoid(const Var<T>& x) {
    Tensor<T> y = sigmoid_fwd(x.value());
    return record<T>("sigmoid", y, {&x},
                     [y](const Tensor<T>& gy) { return std::vector<Tensor<T>>{sigmoid_bwd(gy, y)}; });
}

}  // namespace ichseg
