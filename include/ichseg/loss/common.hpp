/// @file common.hpp (loss)
/// @brief Losses are fused: one CPU pass computes the scalar value and dL/d(input) together; the recorded node
/// only scales that saved gradient by the incoming scalar gradient.
#pragma once

#include <vector>

#include "ichseg/ops/arithmetic.hpp"
#include "ichseg/ops/common.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/losses.hpp"  // the CUDA losses the loss headers dispatch to
#endif

namespace ichseg {

/// A scalar loss value together with its gradient with respect to each differentiable input.
template <class T>
struct LossAndGrad {
    double value = 0;
    std::vector<Tensor<T>> grads;
};

namespace detail {
/// Record a fused loss: output shape [1]; backward returns grads[i] * dL/d(loss).
template <class T>
Var<T> record_loss(const char* name, LossAndGrad<T> lg, const std::vector<const Var<T>*>& inputs) {
    auto grads = std::move(lg.grads);
    return record<T>(name, Tensor<T>::full({1}, static_cast<T>(lg.value)), inputs, [grads](const Tensor<T>& gy) {
        const T s = gy.to_vector()[0];
        std::vector<Tensor<T>> out;
        for (const auto& g : grads) {
            if (!g.defined()) {
                out.emplace_back();
                continue;
            }
            if (s == T(1)) {
                out.push_back(g);
                continue;
            }
            out.push_back(scale_fwd(g, s));
        }
        return out;
    });
}
}  // namespace detail

}  // namespace ichseg
