/// @file relu.hpp
/// @brief ReLU: y = max(0, x); dx = dy where y > 0 (the gradient at 0 is 0, as in PyTorch).
#pragma once

#include "ichseg/cpu/pointwise.hpp"
#include "ichseg/ops/common.hpp"

namespace ichseg {

template <class T>
Tensor<T> relu_fwd(const Tensor<T>& x_in) {
#if ICHSEG_WITH_CUDA
    if (x_in.device().is_cuda()) return cuda::relu_fwd(x_in);
#endif
    Tensor<T> x = detail::cpu_input("relu", x_in);
    Tensor<T> y = Tensor<T>::empty(x.shape());
    cpu::relu_fwd(x.numel(), x.data(), y.data());
    return y;
}

template <class T>
Tensor<T> relu_bwd(const Tensor<T>& dy_in, const Tensor<T>& y) {
    detail::check_same_shape("relu_bwd", "dy", dy_in, "y", y);
#if ICHSEG_WITH_CUDA
    if (dy_in.device().is_cuda()) return cuda::relu_bwd(dy_in, y);
#endif
    Tensor<T> dy = detail::cpu_input("relu_bwd", dy_in);
    Tensor<T> dx = Tensor<T>::empty(dy.shape());
    cpu::relu_bwd(dy.numel(), dy.data(), y.data(), dx.data());
    return dx;
}

template <class T>
Var<T> relu(const Var<T>& x) {
    detail::static_check_float<T>();
    Tensor<T> y = relu_fwd(x.value());
    return record<T>("relu", y, {&x}, [y](const Tensor<T>& gy) { return std::vector<Tensor<T>>{relu_bwd(gy, y)}; });
}

}  // namespace ichseg
