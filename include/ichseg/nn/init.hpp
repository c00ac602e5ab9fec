/// @file init.hpp
/// @brief PyTorch's default initialisation: kaiming_uniform_(a = sqrt(5)) for weights, which is
/// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for biases. Values come from one Philox stream each.
#pragma once

#include <cmath>

#include "ichseg/core/rng.hpp"
#include "ichseg/core/tensor.hpp"

namespace ichseg::nn {

/// A CPU tensor filled with U(-bound, bound).
template <class T>
Tensor<T> uniform_tensor(const Shape& shape, double bound, Generator& gen) {
    Tensor<T> t = Tensor<T>::empty(shape);
    const uint64_t stream = gen.next_stream();
    for (int64_t i = 0; i < t.numel(); ++i)
        t.data()[i] = static_cast<T>(bound * (2.0 * random_uniform(gen.seed(), stream, i) - 1.0));
    return t;
}

/// Bound of PyTorch's default init for a layer with the given fan-in (kaiming_uniform_ with a = sqrt(5)).
inline double default_init_bound(int64_t fan_in) { return fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0; }

}  // namespace ichseg::nn

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg::nn {
ICHSEG_EXTERN_TEMPLATE template Tensor<float> uniform_tensor<float>(const Shape&, double, Generator&);
}  // namespace ichseg::nn
#endif
