/// @file common.hpp (loss)
/// @brief What every loss header shares. Losses are fused: the tensor-level entry point X_loss_value_and_grad
/// (loss/X.hpp) computes the scalar value and dL/d(input) together, on the CPU (cpu/X.hpp) or on CUDA
/// (cuda/X.hpp); the tape node recorded by record_loss below, the same for every loss, only scales those saved
/// gradients by the incoming scalar gradient. Index arguments (labels, cells) are validated on the host.
#pragma once

#include <vector>

#include "ichseg/ops/arithmetic.hpp"
#include "ichseg/ops/common.hpp"

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

/// An index argument (labels, cells) readable on the host, for validation and the CPU kernels: `t` itself when it
/// is a contiguous CPU tensor (no copy on the usual path), else a contiguous CPU copy.
inline Tensor<int64_t> host_indices(const char* op, const char* arg, const Tensor<int64_t>& t) {
    ICHSEG_CHECK(t.defined(), op, ": ", arg, " is undefined");
    return t.to(Device::cpu()).contiguous();
}
/// The same indices on `dev` for a CUDA kernel: `t` when it is already there, else `host` (its validated host
/// copy) moved there.
inline Tensor<int64_t> indices_on(const Tensor<int64_t>& t, const Tensor<int64_t>& host, Device dev) {
    return t.device() == dev ? t.contiguous() : host.to(dev);
}
}  // namespace detail

}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg::detail {
ICHSEG_EXTERN_TEMPLATE template Var<float> record_loss<float>(const char*, LossAndGrad<float>,
                                                              const std::vector<const Var<float>*>&);
}  // namespace ichseg::detail
#endif
