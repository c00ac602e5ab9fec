/// @file adam.hpp (params)
/// @brief The scalars of one Adam update, computed once per step by optim/adam.hpp and read by both backends
/// (cpu/adam.hpp, cuda/adam.hpp, kernels/adam.cu):
///   g' = g + wd p;  m += one_minus_b1 (g' - m);  v = v b2 + one_minus_b2 g'^2;
///   p -= step_size m / (sqrt(v) / bc2_sqrt + eps)
/// with step_size = lr / (1 - b1^t) and bc2_sqrt = sqrt(1 - b2^t). 1 - beta is computed in double and then
/// rounded (as PyTorch passes it): 1 - float(0.999) would be 1.3e-5 off.
#pragma once

namespace ichseg {

template <class T>
struct AdamStep {
    T one_minus_b1, b2, one_minus_b2, wd, step_size, bc2_sqrt, eps;
};

}  // namespace ichseg
