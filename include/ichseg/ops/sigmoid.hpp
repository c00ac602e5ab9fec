/// @file sigmoid.hpp
/// @brief Logistic sigmoid: y = 1 / (1 + exp(-x)); dx = dy * y * (1 - y).
#pragma once

#include "ichseg/cpu/pointwise.hpp"
#include "ichseg/ops/common.hpp"

namespace ichseg {

template <class T>
Tensor<T> sigmoid_fwd(const Tensor<T>& x_in) {
#if ICHSEG_WITH_CUDA
    if (x_in.device().is_cuda()) return cuda::sigmoid_fwd(x_in);
#endif
    Tensor<T> x = detail::cpu_input("sigmoid", x_in);
    Tensor<T> y = Tensor<T>::empty(x.shape());
    cpu::sigmoid_fwd(x.numel(), x.data(), y.data());
    return y;
}

template <class T>
Var<T> sigmoid(const Var<T>& x) {
    detail::static_check_float<T>();
#if ICHSEG_WITH_CUDA
    if (x.device().is_cuda()) return cuda::sigmoid(x);
#endif
    Tensor<T> y = sigmoid_fwd(x.value());
    return record<T>("sigmoid", y, {&x}, [y](const Tensor<T>& gy_in) {
        detail::check_same_shape("sigmoid_bwd", "dy", gy_in, "y", y);
        Tensor<T> gy = detail::cpu_input("sigmoid_bwd", gy_in);
        Tensor<T> dx = Tensor<T>::empty(y.shape());
        cpu::sigmoid_bwd(y.numel(), gy.data(), y.data(), dx.data());
        return std::vector<Tensor<T>>{dx};
    });
}

}  // namespace ichseg
