/// @file sigmoid.hpp
/// @brief Logistic sigmoid: y = 1 / (1 + exp(-x)); dx = dy * y * (1 - y).
///   sigmoid_fwd(x) -> y;  sigmoid_bwd(dy, y) -> dx  (tensor-level, either device);  sigmoid(Var): the tape node.
/// Dispatch: ops/pointwise.hpp. Kernels: cpu/pointwise.hpp, cuda/pointwise.hpp (kernels/sigmoid.cu).
#pragma once

#include "ichseg/ops/pointwise.hpp"

namespace ichseg {

template <class T>
Tensor<T> sigmoid_fwd(const Tensor<T>& x) {
    return detail::pointwise_map(PointwiseMap::sigmoid_fwd, x);
}

/// dx = dy y (1 - y); y is sigmoid_fwd's output.
template <class T>
Tensor<T> sigmoid_bwd(const Tensor<T>& dy, const Tensor<T>& y) {
    return detail::pointwise_map(PointwiseMap::sigmoid_bwd, dy, y);
}

template <class T>
Var<T> sigmoid(const Var<T>& x) {
    Tensor<T> y = sigmoid_fwd(x.value());
    return record<T>("sigmoid", y, {&x},
                     [y](const Tensor<T>& gy) { return std::vector<Tensor<T>>{sigmoid_bwd(gy, y)}; });
}

}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg {
ICHSEG_EXTERN_TEMPLATE template Tensor<float> sigmoid_fwd<float>(const Tensor<float>&);
ICHSEG_EXTERN_TEMPLATE template Tensor<float> sigmoid_bwd<float>(const Tensor<float>&, const Tensor<float>&);
ICHSEG_EXTERN_TEMPLATE template Var<float> sigmoid<float>(const Var<float>&);
}  // namespace ichseg
#endif
