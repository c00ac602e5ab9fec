/// @file precision.hpp
/// @brief The precision of the CPU backend's products: `Precision::FP32` (the default and the reference) or
/// `Precision::BF16` (mixed precision: convolution and transposed-convolution operands rounded to bfloat16, 8-bit
/// mantissa, products accumulated in FP32).
///
/// Only the products change. Tensors stay FP32, and so do the parameters (master weights), the optimiser state,
/// batch-norm statistics, every reduction and every loss, as in PyTorch's `torch.autocast("cpu",
/// dtype=torch.bfloat16)`. Ops read the precision when they run, on the calling thread: the innermost
/// PrecisionGuard, else the process default (environment variable ICHSEG_PRECISION = fp32 | bf16, or
/// set_default_precision()). The tape records the precision with every op and its backward runs under the same
/// one, so a guard around the forward pass is enough (as with autocast). Where the CPU build has no BF16 product
/// instructions (AVX512_BF16) the BF16 setting computes in FP32; `cpu::bf16_status()` (cpu/bf16.hpp) says which.
/// The CUDA backend has its own policy (cuda/runtime.hpp); the study maps this setting onto it.
#pragma once

#include <cstdlib>
#include <string>

#include "ichseg/core/error.hpp"

namespace ichseg {

enum class Precision { FP32, BF16 };

inline const char* precision_name(Precision p) { return p == Precision::BF16 ? "bf16" : "fp32"; }

/// "fp32" | "bf16" (also upper case) -> Precision; anything else is an error that names `what` and the value.
inline Precision parse_precision(const std::string& s, const char* what = "precision") {
    if (s == "fp32" || s == "FP32") return Precision::FP32;
    if (s == "bf16" || s == "BF16") return Precision::BF16;
    fail(what, " must be fp32 or bf16, got '", s, "'");
}

namespace detail {
inline Precision& default_precision_ref() {
    static Precision p = [] {
        const char* s = std::getenv("ICHSEG_PRECISION");
        return s && *s ? parse_precision(s, "ICHSEG_PRECISION") : Precision::FP32;
    }();
    return p;
}
/// -1: no guard active on this thread, else the guarded Precision.
inline int& thread_precision_ref() {
    thread_local int p = -1;
    return p;
}
}  // namespace detail

/// The precision CPU ops called now on this thread use: the innermost PrecisionGuard, else the process default.
inline Precision precision() {
    const int t = detail::thread_precision_ref();
    return t >= 0 ? static_cast<Precision>(t) : detail::default_precision_ref();
}
inline Precision default_precision() { return detail::default_precision_ref(); }
inline void set_default_precision(Precision p) { detail::default_precision_ref() = p; }

/// Scoped precision for this thread (like torch.autocast).
class PrecisionGuard {
public:
    explicit PrecisionGuard(Precision p) : prev_(detail::thread_precision_ref()) {
        detail::thread_precision_ref() = static_cast<int>(p);
    }
    ~PrecisionGuard() { detail::thread_precision_ref() = prev_; }
    PrecisionGuard(const PrecisionGuard&) = delete;
    PrecisionGuard& operator=(const PrecisionGuard&) = delete;

private:
    int prev_;
};

}  // namespace ichseg
