/// @file reshape.hpp
/// @brief reshape / flatten: the same values with another shape (a view when contiguous); the gradient is
/// reshaped back.
#pragma once

#include "ichseg/ops/common.hpp"

namespace ichseg {

template <class T>
Var<T> reshape(const Var<T>& x, const Shape& shape) {
    Tensor<T> y;
    try {
        y = x.value().reshape(shape);
    } catch (const Error& e) {
        fail("reshape: cannot reshape ", describe(x.value()), " to ", to_string(shape), " (", e.what(), ")");
    }
    const Shape xs = x.shape();
    return record<T>("reshape", y, {&x},
                     [xs](const Tensor<T>& gy) { return std::vector<Tensor<T>>{gy.reshape(xs)}; });
}

/// (N, d1, d2, ...) -> (N, d1 * d2 * ...)
template <class T>
Var<T> flatten(const Var<T>& x) {
    ICHSEG_CHECK(x.dim() >= 1, "flatten: scalar input");
    return reshape(x, {x.size(0), -1});
}

}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg {
ICHSEG_EXTERN_TEMPLATE template Var<float> reshape<float>(const Var<float>&, const Shape&);
ICHSEG_EXTERN_TEMPLATE template Var<float> flatten<float>(const Var<float>&);
}  // namespace ichseg
#endif
