/// @file dropout.hpp
/// @brief Element-wise (inverted) dropout: in training, y = x * keep / (1 - p) with keep ~ Bernoulli(1 - p);
/// identity in evaluation. The mask comes from the counter-based RNG stream drawn from `gen` and is
/// regenerated in backward (nothing is stored), so CPU and GPU give the same mask for the same seed.
///   dropout_fwd(x, mask) -> y;  dropout_bwd(dy, mask) -> dx = dy * keep / (1 - p)  (tensor-level, either device);
///   dropout(Var, p, training, gen): draws the mask's stream and records the tape node.
/// Kernels: cpu/pointwise.hpp, cuda/pointwise.hpp (kernels/dropout.cu).
#pragma once

#include "ichseg/core/rng.hpp"
#include "ichseg/cpu/pointwise.hpp"
#include "ichseg/ops/common.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/pointwise.hpp"
#endif

namespace ichseg {

namespace detail {
/// dropout_fwd and dropout_bwd are one map: x * keep / (1 - p) with the mask of `m`.
template <class T>
Tensor<T> dropout_apply(const char* op, const Tensor<T>& x, const DropoutMask& m) {
    static_check_float<T>();
    ICHSEG_CHECK(x.defined(), op, ": input is undefined");
    ICHSEG_CHECK(m.p >= 0.0 && m.p < 1.0, op, ": probability must be in [0, 1), got ", m.p);
    const PointwiseGeometry g{x.numel()};
    const Device dev = op_device(op, {&x});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && require_support<T>(op, dev, cuda::supports<T>(g))) return cuda::dropout_apply(x, m);
#endif
    require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> xc = cpu_input(op, x);
    Tensor<T> y = Tensor<T>::empty(xc.shape());
    cpu::dropout_apply(g.n, xc.data(), y.data(), m.seed, m.stream, m.p);
    return y;
}
}  // namespace detail

template <class T>
Tensor<T> dropout_fwd(const Tensor<T>& x, const DropoutMask& m) {
    return detail::dropout_apply("dropout_fwd", x, m);
}
template <class T>
Tensor<T> dropout_bwd(const Tensor<T>& dy, const DropoutMask& m) {
    return detail::dropout_apply("dropout_bwd", dy, m);
}

template <class T>
Var<T> dropout(const Var<T>& x, double p, bool training, Generator& gen) {
    detail::static_check_float<T>();
    ICHSEG_CHECK(p >= 0.0 && p < 1.0, "dropout: probability must be in [0, 1), got ", p);
    if (!training || p == 0.0) return x;
    const DropoutMask m{gen.seed(), gen.next_stream(), p};
    Tensor<T> y = dropout_fwd(x.value(), m);
    return record<T>("dropout", y, {&x},
                     [m](const Tensor<T>& gy) { return std::vector<Tensor<T>>{dropout_bwd(gy, m)}; });
}

}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg {
ICHSEG_EXTERN_TEMPLATE template Tensor<float> dropout_fwd<float>(const Tensor<float>&, const DropoutMask&);
ICHSEG_EXTERN_TEMPLATE template Tensor<float> dropout_bwd<float>(const Tensor<float>&, const DropoutMask&);
ICHSEG_EXTERN_TEMPLATE template Var<float> dropout<float>(const Var<float>&, double, bool, Generator&);
}  // namespace ichseg
#endif
