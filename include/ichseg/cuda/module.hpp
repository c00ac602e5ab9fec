/// @file module.hpp (cuda)
/// @brief Move a module tree's parameters and floating-point buffers to a device (and back): the CUDA side of
/// "model.to(device)". Gradients are dropped (they are recomputed on the new device). The 0-dimensional
/// num_batches_tracked counters stay on the CPU, where nn::BatchNorm2d increments them.
#pragma once

#include "ichseg/nn/module.hpp"

namespace ichseg::nn {

template <class T>
void to_device(Module<T>& m, Device dev) {
    for (auto& [name, v] : m.named_parameters()) {
        Var<T> p = v;  // shares the module's VarImpl
        p.mutable_value() = p.value().to(dev);
        p.zero_grad();
    }
    for (auto& b : m.named_buffers())
        if (b.tensor->defined() && b.tensor->dim() > 0) *b.tensor = b.tensor->to(dev);
}

}  // namespace ichseg::nn
