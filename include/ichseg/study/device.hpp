/// @file device.hpp (study)
/// @brief Where the study trains and evaluates: "auto" (the GPU when the program links the CUDA backend,
/// `ichseg::cuda`, which defines ICHSEG_WITH_CUDA, and a device is usable; the CPU otherwise), "cpu", or "cuda"
/// (an error naming why when no GPU can be used). The same rule as `predict::SegmenterOptions::device`.
///
/// What moves: the networks (parameters and batch-norm statistics, `nn::to_device`), the Adam moments (created
/// on the parameters' device) and every batch. What comes back to the CPU: loss values, predictions (evaluation,
/// t-SNE features) and every file (model files, state dicts and training-state checkpoints are written from CPU
/// copies, so they are device-independent safetensors: a run started on the CPU may resume on a GPU and back).
/// On the CPU nothing is copied: `to_device(t, cpu)` returns `t` itself, so the CPU path is the one it was.
#pragma once

#include <string>

#include "ichseg/core/error.hpp"
#include "ichseg/core/tensor.hpp"
#include "ichseg/nn/module.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/module.hpp"
#include "ichseg/cuda/runtime.hpp"
#endif

namespace ichseg::study {

/// The resolved device of a run and how to describe it.
struct DeviceChoice {
    Device device = Device::cpu();
    std::string requested = "auto";
    std::string reason;  ///< why the CPU (empty when on a GPU or when "cpu" was asked for)
    std::string detail;  ///< the GPU's name and the CUDA precision policy (empty on the CPU)

    bool is_cuda() const { return device.is_cuda(); }
    /// "training on cuda:0 (NVIDIA H100 ..., precision tf32)" / "training on the CPU (reason)".
    std::string describe() const {
        if (device.is_cuda()) return "training on " + device.str() + (detail.empty() ? "" : " (" + detail + ")");
        if (requested == "cpu") return "training on the CPU (--device cpu)";
        return "training on the CPU" + (reason.empty() ? std::string() : " (" + reason + ")");
    }
};

/// True when this program was built with the CUDA backend (ICHSEG_WITH_CUDA).
inline constexpr bool built_with_cuda() {
#if ICHSEG_WITH_CUDA
    return true;
#else
    return false;
#endif
}

/// "auto" | "cpu" | "cuda" -> the device. "cuda" without a usable GPU throws an ichseg::Error that says why
/// (no CUDA backend in this build, or the driver's reason); call it before any work starts.
inline DeviceChoice resolve_device(const std::string& want) {
    ICHSEG_CHECK(want == "auto" || want == "cpu" || want == "cuda", "device must be auto, cpu or cuda; got '", want,
                 "'");
    DeviceChoice c;
    c.requested = want;
    if (want == "cpu") return c;
#if ICHSEG_WITH_CUDA
    std::string why;
    if (cuda::device_count(&why) > 0) {
        c.device = Device::cuda(0);
        c.detail = cuda::device_description(0) + ", precision " + cuda::precision_name(cuda::default_precision());
        return c;
    }
    if (why.empty()) why = "no CUDA device found";
    ICHSEG_CHECK(want != "cuda", "device 'cuda' requested, but no GPU can be used: ", why);
    c.reason = "no usable GPU: " + why;
#else
    ICHSEG_CHECK(want != "cuda",
                 "device 'cuda' requested, but this program was built without the ichseg CUDA backend "
                 "(configure with -DICHSEG_CUDA=ON on a machine with the CUDA toolkit; docs/cuda.md)");
    c.reason = "built without the ichseg CUDA backend";
#endif
    return c;
}

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
