/// @file dropout.hpp
/// @brief Element-wise (inverted) dropout: in training, y = x * keep / (1 - p) with keep ~ Bernoulli(1 - p);
/// identity in evaluation. The mask comes from the counter-based RNG stream drawn from `gen` and is
/// regenerated in backward (nothing is stored), so CPU and GPU give the same mask for the same seed.
#pragma once

#include "ichseg/core/rng.hpp"
#include "ichseg/cpu/pointwise.hpp"
#include "ichseg/ops/common.hpp"

namespace ichseg {

template <class T>
Var<T> dropout(const Var<T>& x, double p, bool training, Generator& gen) {
    detail::static_check_float<T>();
    ICHSEG_CHECK(p >= 0.0 && p < 1.0, "dropout: probability must be in [0, 1), got ", p);
    if (!training || p == 0.0) return x;
    const uint64_t seed = gen.seed(), stream = gen.next_stream();
#if ICHSEG_WITH_CUDA
    if (x.device().is_cuda()) return cuda::dropout(x, p, seed, stream);
#endif
    Tensor<T> xc = detail::cpu_input("dropout", x.value());
    Tensor<T> y = Tensor<T>::empty(xc.shape());
    cpu::dropout_apply(xc.numel(), xc.data(), y.data(), seed, stream, p);
    return record<T>("dropout", y, {&x}, [seed, stream, p](const Tensor<T>& gy_in) {
        Tensor<T> gy = detail::cpu_input("dropout_bwd", gy_in);
        Tensor<T> dx = Tensor<T>::empty(gy.shape());
        cpu::dropout_apply(gy.numel(), gy.data(), dx.data(), seed, stream, p);
        return std::vector<Tensor<T>>{dx};
    });
}

}  // namespace ichseg
