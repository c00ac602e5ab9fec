/// @file cuda_support.hpp (tests/cuda)
/// @brief Shared helpers of the [cuda] tests: inputs (Philox fills), moving tensors, and the comparison of a GPU
/// result with the CPU reference.
///
/// Tolerance rule (stated once, used everywhere): max |gpu - cpu| <= tol * max |cpu| over the tensor (an
/// NMSE-like, scale-aware bound: the absolute error of a sum of n products grows like eps * sqrt(n) * rms term,
/// while max |result| grows like sqrt(n) * rms term, so the ratio depends on the precision, not the size).
///   FP32 SIMT:  1e-5  (FP32 rounding ~6e-8 per operation; both CPU and GPU round, order differs)
///   TF32:       5e-3  (operands rounded to 10-bit mantissa: 2^-11 ~ 4.9e-4 relative per operand, two operands,
///                      random-sign accumulation; max over ~1e6 outputs at ~5 sigma)
///   BF16:       2e-2  (8-bit mantissa: 2^-9 ~ 2e-3 relative per operand, same argument)
/// Element-wise ops and losses (always FP32) use 1e-5 unless a comment says why not.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "ichseg/core/rng.hpp"
#include "ichseg/core/tensor.hpp"
#include "ichseg/cuda/runtime.hpp"

namespace ichseg::test {

inline Tensor<float> randu(const Shape& s, uint64_t stream, double lo = -1.0, double hi = 1.0) {
    Tensor<float> t = Tensor<float>::empty(s);
    for (int64_t i = 0; i < t.numel(); ++i)
        t.data()[i] = static_cast<float>(lo + (hi - lo) * random_uniform(20240917, stream, static_cast<uint64_t>(i)));
    return t;
}
inline Tensor<float> gpu(const Tensor<float>& t) { return t.to(Device::cuda(0)); }
inline Tensor<float> host(const Tensor<float>& t) { return t.to(Device::cpu()); }

struct Diff {
    double max_abs = 0, max_ref = 0, ratio = 0;
    int64_t where = -1, nonfinite = 0;
    std::string str() const {
        std::ostringstream os;
        os << "max |gpu - cpu| " << max_abs << " at " << where << ", max |cpu| " << max_ref << ", ratio " << ratio
           << ", non-finite " << nonfinite;
        return os.str();
    }
};

inline Diff diff(const Tensor<float>& gpu_result, const Tensor<float>& cpu_ref) {
    REQUIRE(gpu_result.shape() == cpu_ref.shape());
    const std::vector<float> a = gpu_result.to_vector(), b = cpu_ref.to_vector();
    Diff d;
    for (size_t i = 0; i < a.size(); ++i) {
        if (!std::isfinite(a[i]) && std::isfinite(b[i])) ++d.nonfinite;
        const double e = std::abs(static_cast<double>(a[i]) - b[i]);
        if (e > d.max_abs || std::isnan(e)) d.max_abs = e, d.where = static_cast<int64_t>(i);
        d.max_ref = std::max(d.max_ref, std::abs(static_cast<double>(b[i])));
    }
    d.ratio = d.max_abs / std::max(d.max_ref, 1e-30);
    return d;
}

inline double tol_for(cuda::Precision p) {
    return p == cuda::Precision::FP32 ? 1e-5 : p == cuda::Precision::TF32 ? 5e-3 : 2e-2;
}

}  // namespace ichseg::test

/// REQUIRE max |gpu - cpu| <= tol * max |cpu| (and no NaN/Inf where the reference is finite).
#define ICHSEG_REQUIRE_GPU_CLOSE(gpu_t, cpu_t, tol)                                                      \
    do {                                                                                                 \
        const ::ichseg::test::Diff ichseg_d_ = ::ichseg::test::diff((gpu_t), (cpu_t));                   \
        INFO(#gpu_t " vs " #cpu_t ": " << ichseg_d_.str() << " (tolerance " << (tol) << " x max|cpu|)"); \
        REQUIRE(ichseg_d_.nonfinite == 0);                                                               \
        REQUIRE(ichseg_d_.ratio <= (tol));                                                               \
    } while (0)

#include <functional>
#include <vector>

#include "ichseg/autograd/variable.hpp"

namespace ichseg::test {

/// Run a differentiable function on the CPU and on the GPU with the same inputs (all requiring gradients) and
/// the same random upstream gradient; require the outputs and every input gradient to agree within tol.
inline void compare_forward_backward(const std::function<Var<float>(const std::vector<Var<float>>&)>& f,
                                     const std::vector<Tensor<float>>& inputs, double tol, uint64_t seed_stream = 99) {
    std::vector<Var<float>> vc, vg;
    for (const auto& t : inputs) {
        vc.emplace_back(t.clone(), true);
        vg.emplace_back(gpu(t), true);
    }
    Var<float> yc = f(vc), yg = f(vg);
    REQUIRE(yg.device().is_cuda());
    ICHSEG_REQUIRE_GPU_CLOSE(yg.value(), yc.value(), tol);
    const Tensor<float> seed = randu(yc.shape(), seed_stream);
    yc.backward(seed);
    yg.backward(gpu(seed));
    for (size_t i = 0; i < inputs.size(); ++i) {
        INFO("gradient of input " << i);
        REQUIRE(vg[i].grad().defined() == vc[i].grad().defined());
        if (vc[i].grad().defined()) ICHSEG_REQUIRE_GPU_CLOSE(vg[i].grad(), vc[i].grad(), tol);
    }
}

}  // namespace ichseg::test
