/// @file device_choice.hpp
/// @brief The one rule that turns a user's "auto" | "cpu" | "cuda" | "cuda:N" into a device, shared by the study
/// programs and the Segmenter: "auto" is the GPU when the program links the CUDA backend (`ichseg::cuda`, which
/// defines ICHSEG_WITH_CUDA) and a device is usable, the CPU otherwise; "cuda" (= "cuda:0") and "cuda:N" (GPU N
/// as the CUDA runtime numbers them, i.e. within CUDA_VISIBLE_DEVICES) without that GPU are an error that says why
/// (no backend in this build, the driver's reason, or fewer GPUs); "cpu" is the CPU. A process uses one GPU. The GPU is queried through
/// the device hooks (core/device_hooks.hpp) that the CUDA backend installs, so this header includes nothing from cuda/.
#pragma once

#include <algorithm>
#include <string>

#include "ichseg/config.hpp"
#include "ichseg/core/device.hpp"
#include "ichseg/core/device_hooks.hpp"
#include "ichseg/core/error.hpp"

namespace ichseg {

/// True when this program was built with the CUDA backend (ICHSEG_WITH_CUDA).
inline constexpr bool built_with_cuda() {
#if ICHSEG_WITH_CUDA
    return true;
#else
    return false;
#endif
}

/// The resolved device of a run and how to describe it.
struct DeviceChoice {
    Device device = Device::cpu();
    std::string requested = "auto";
    std::string reason;  ///< why the CPU when "auto" was asked for (empty on a GPU or for "cpu")
    std::string detail;  ///< the GPU's name and the CUDA precision policy (empty on the CPU)

    bool is_cuda() const { return device.is_cuda(); }
    /// "<activity> on cuda:0 (NVIDIA H100 ..., precision tf32)" / "<activity> on the CPU (reason)".
    std::string describe(const std::string& activity) const {
        if (device.is_cuda()) return activity + " on " + device.str() + (detail.empty() ? "" : " (" + detail + ")");
        if (requested == "cpu") return activity + " on the CPU (--device cpu)";
        return activity + " on the CPU" + (reason.empty() ? std::string() : " (" + reason + ")");
    }
};

/// The GPU index of "cuda:N" (N >= 0), or -1 when `want` is not of that form.
inline int cuda_index_of(const std::string& want) {
    if (want.rfind("cuda:", 0) != 0 || want.size() == 5 || want.size() > 8) return -1;
    for (size_t i = 5; i < want.size(); ++i)
        if (want[i] < '0' || want[i] > '9') return -1;
    return std::stoi(want.substr(5));
}

/// "auto" | "cpu" | "cuda" | "cuda:N" -> the device (see the file comment). Call it before any work starts, so
/// that a refused "cuda" stops the program before it writes anything.
inline DeviceChoice resolve_device(const std::string& want) {
    const int index = want == "cuda" ? 0 : cuda_index_of(want);
    ICHSEG_CHECK(want == "auto" || want == "cpu" || index >= 0, "device must be auto, cpu, cuda or cuda:N; got '",
                 want, "'");
    DeviceChoice c;
    c.requested = want;
    if (want == "cpu") return c;
#if ICHSEG_WITH_CUDA
    std::string why;
    ICHSEG_CHECK(cuda_hooks_ready() && cuda_hooks().device_count && cuda_hooks().describe_device,
                 "resolve_device: the CUDA backend did not install its device hooks");
    const int n = cuda_hooks().device_count(&why);
    if (n > std::max(index, 0)) {
        c.device = Device::cuda(std::max(index, 0));
        c.detail = cuda_hooks().describe_device(c.device.index);
        return c;
    }
    if (n > 0) why = std::to_string(n) + " GPU(s) visible (cuda:0 .. cuda:" + std::to_string(n - 1) + ")";
    if (why.empty()) why = "no CUDA device found";
    ICHSEG_CHECK(want == "auto", "device '", want, "' requested, but no GPU can be used: ", why);
    c.reason = "no usable GPU: " + why;
#else
    ICHSEG_CHECK(want == "auto",
                 "device '", want, "' requested, but this program was built without the ichseg CUDA backend "
                 "(link ichseg::cuda: configure with -DICHSEG_CUDA=ON on a machine with the CUDA toolkit; "
                 "docs/cuda.md)");
    c.reason = "built without the ichseg CUDA backend";
#endif
    return c;
}

}  // namespace ichseg
