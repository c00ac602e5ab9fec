/// @file relu.hpp
/// @brief ReLU: y = max(0, x); dx = dy where y > 0 (the gradient at 0 is 0, as in PyTorch).
///   relu_fwd(x) -> y;  relu_bwd(dy, y) -> dx  (tensor-level, either device);  relu(Var): the tape node.
/// Kernels: cpu/pointwise.hpp, cuda/pointwise.hpp (kernels/relu.cu).
#pragma once

#include "ichseg/cpu/pointwise.hpp"
#include "ichseg/ops/common.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/pointwise.hpp"
#endif

namespace ichseg {

template <class T>
Tensor<T> relu_fwd(const Tensor<T>& x) {
    detail::static_check_float<T>();
    const char* op = "relu_fwd";
    ICHSEG_CHECK(x.defined(), op, ": input is undefined");
    const PointwiseGeometry g{x.numel()};
    const Device dev = detail::op_device(op, {&x});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda()) {
        detail::require_support<T>(op, dev, cuda::supports<T>(g));
        return cuda::relu_fwd(x);
    }
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> xc = detail::cpu_input(op, x);
    Tensor<T> y = Tensor<T>::empty(xc.shape());
    cpu::relu_fwd(g.n, xc.data(), y.data());
    return y;
}

/// dx = dy where y > 0; y is relu_fwd's output.
template <class T>
Tensor<T> relu_bwd(const Tensor<T>& dy, const Tensor<T>& y) {
    detail::static_check_float<T>();
    const char* op = "relu_bwd";
    detail::check_same_shape(op, "dy", dy, "y", y);
    const PointwiseGeometry g{dy.numel()};
    const Device dev = detail::op_device(op, {&dy, &y});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda()) {
        detail::require_support<T>(op, dev, cuda::supports<T>(g));
        return cuda::relu_bwd(dy, y);
    }
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> dyc = detail::cpu_input(op, dy), yc = detail::cpu_input(op, y);
    Tensor<T> dx = Tensor<T>::empty(dyc.shape());
    cpu::relu_bwd(g.n, dyc.data(), yc.data(), dx.data());
    return dx;
}

template <class T>
Var<T> relu(const Var<T>& x) {
    Tensor<T> y = relu_fwd(x.value());
    return record<T>("relu", y, {&x}, [y](const Tensor<T>& gy) { return std::vector<Tensor<T>>{relu_bwd(gy, y)}; });
}

}  // namespace ichseg
