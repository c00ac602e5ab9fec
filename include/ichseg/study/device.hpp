/// @file device.hpp (study)
/// @brief Where the study trains and evaluates: "auto" (the GPU when the program links the CUDA backend,
/// `ichseg::cuda`, which defines ICHSEG_WITH_CUDA, and a device is usable; the CPU otherwise), "cpu", or "cuda"
/// (an error naming why when no GPU can be used): ichseg::resolve_device, the rule `predict::Segmenter` uses too.
///
/// What moves: the networks (parameters and batch-norm statistics, `nn::to_device`), the Adam moments (created
/// on the parameters' device) and every batch. What comes back to the CPU: loss values, predictions (evaluation,
/// t-SNE features) and every file (model files, state dicts and training-state checkpoints are written from CPU
/// copies, so they are device-independent safetensors: a run started on the CPU may resume on a GPU and back).
/// On the CPU nothing is copied: `to_device(t, cpu)` returns `t` itself, so the CPU path is the one it was.
#pragma once

#include <string>

#include "ichseg/core/device_choice.hpp"
#include "ichseg/core/error.hpp"
#include "ichseg/core/tensor.hpp"
#include "ichseg/nn/module.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/module.hpp"
#endif

namespace ichseg::study {

/// The resolved device of a run (the rule: ichseg::resolve_device, core/device_choice.hpp), described as training.
struct DeviceChoice : ichseg::DeviceChoice {
    /// "training on cuda:0 (NVIDIA H100 ..., precision tf32)" / "training on the CPU (reason)".
    std::string describe() const { return ichseg::DeviceChoice::describe("training"); }
};

using ichseg::built_with_cuda;

/// "auto" | "cpu" | "cuda" -> the device; "cuda" without a usable GPU throws an ichseg::Error that says why.
inline DeviceChoice resolve_device(const std::string& want) { return DeviceChoice{ichseg::resolve_device(want)}; }

/// `t` on `dev`: `t` itself when it is already there (no copy on the CPU path).
template <class T>
Tensor<T> to_device(const Tensor<T>& t, Device dev) {
    if (!t.defined() || t.device() == dev) return t;
    return t.to(dev);
}

/// Move a module's parameters and buffers to `dev` (nothing to do for the CPU: modules are built there).
template <class T>
void module_to_device(nn::Module<T>& m, Device dev) {
    if (dev.is_cpu()) return;
#if ICHSEG_WITH_CUDA
    nn::to_device(m, dev);
#else
    (void)m;
    fail("module_to_device: ", dev.str(), " needs the ichseg CUDA backend (link ichseg::cuda)");
#endif
}

/// The device of a module's parameters (the CPU for a module without parameters).
template <class T>
Device module_device(const nn::Module<T>& m) {
    const auto named = m.named_parameters();
    return named.empty() ? Device::cpu() : named.front().second.value().device();
}

}  // namespace ichseg::study
