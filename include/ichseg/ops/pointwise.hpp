/// @file pointwise.hpp
/// @brief The dispatch the element-wise entry points of one or two same-shape inputs share: relu_fwd / relu_bwd
/// (ops/relu.hpp), sigmoid_fwd / sigmoid_bwd (ops/sigmoid.hpp), add_fwd / mul_fwd (ops/arithmetic.hpp). The map
/// is named by params/pointwise.hpp's PointwiseMap; the kernels are cpu::pointwise_map (cpu/pointwise.hpp) and
/// cuda::pointwise_map (cuda/pointwise.hpp, kernels/{relu,sigmoid,arithmetic}.cu).
#pragma once

#include "ichseg/cpu/pointwise.hpp"
#include "ichseg/ops/common.hpp"
#include "ichseg/params/pointwise.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/pointwise.hpp"
#endif

namespace ichseg::detail {

/// m(a) or, for the maps with a second input, m(a, b) (same shape, same device), as a new tensor.
template <class T>
Tensor<T> pointwise_map(PointwiseMap m, const Tensor<T>& a, const Tensor<T>& b = Tensor<T>()) {
    static_check_float<T>();
    const char* op = name(m);
    if (has_second_input(m)) check_same_shape(op, first_input_name(m), a, second_input_name(m), b);
    ICHSEG_CHECK(a.defined(), op, ": ", first_input_name(m), " is undefined");
    const PointwiseGeometry g{a.numel()};
    const Device dev = op_device(op, {&a, &b});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && require_support<T>(op, dev, cuda::supports<T>(g))) return cuda::pointwise_map(m, a, b);
#endif
    require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> ac = cpu_input(op, a), bc = has_second_input(m) ? cpu_input(op, b) : Tensor<T>();
    Tensor<T> y = Tensor<T>::empty(ac.shape());
    cpu::pointwise_map(m, g.n, ac.data(), bc.defined() ? bc.data() : nullptr, y.data());
    return y;
}

}  // namespace ichseg::detail

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg::detail {
ICHSEG_EXTERN_TEMPLATE template Tensor<float> pointwise_map<float>(PointwiseMap, const Tensor<float>&,
                                                                   const Tensor<float>&);
}  // namespace ichseg::detail
#endif
