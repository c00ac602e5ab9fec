/// @file relu.hpp
/// @brief ReLU: y = max(0, x); dx = dy where y > 0 (the gradient at 0 is 0, as in PyTorch).
///   relu_fwd(x) -> y;  relu_bwd(dy, y) -> dx  (tensor-level, either device);  relu(Var): the tape node.
/// Dispatch: ops/pointwise.hpp. Kernels: cpu/pointwise.hpp, cuda/pointwise.hpp (kernels/relu.cu).
#pragma once

#include "ichseg/ops/pointwise.hpp"

namespace ichseg {

template <class T>
Tensor<T> relu_fwd(const Tensor<T>& x) {
    return detail::pointwise_map(PointwiseMap::relu_fwd, x);
}

/// dx = dy where y > 0; y is relu_fwd's output.
template <class T>
Tensor<T> relu_bwd(const Tensor<T>& dy, const Tensor<T>& y) {
    return detail::pointwise_map(PointwiseMap::relu_bwd, dy, y);
}

template <class T>
Var<T> relu(const Var<T>& x) {
    Tensor<T> y = relu_fwd(x.value());
    return record<T>("relu", y, {&x}, [y](const Tensor<T>& gy) { return std::vector<Tensor<T>>{relu_bwd(gy, y)}; });
}

}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg {
ICHSEG_EXTERN_TEMPLATE template Tensor<float> relu_fwd<float>(const Tensor<float>&);
ICHSEG_EXTERN_TEMPLATE template Tensor<float> relu_bwd<float>(const Tensor<float>&, const Tensor<float>&);
ICHSEG_EXTERN_TEMPLATE template Var<float> relu<float>(const Var<float>&);
}  // namespace ichseg
#endif
