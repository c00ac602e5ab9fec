/// @file step_support.hpp (tests/cuda)
/// @brief Whole U-Net training steps for the step-level [cuda] tests (bitwise determinism, the cuDNN backend):
/// run N steps (forward, mixed Dice, backward, Adam) on a device with chosen precision and backends, and bring
/// every loss, gradient, parameter and buffer back to the host; compare two such runs bit for bit or within the
/// step tolerances of test_unet_step_cuda.cpp.
///
/// move_to() below is the only place these tests move a module to a device (nn::Module::to).
#pragma once

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "cuda_support.hpp"
#include "ichseg/ichseg.hpp"

namespace ichseg::test {

template <class M>
void move_to(M& module, Device dev) {
    module.to(dev);
}

struct StepSetup {
    nn::UNetConfig cfg;
    Shape x_shape;
    int steps = 1;
    cuda::Precision precision = cuda::Precision::FP32;
    cuda::ConvBackend conv = cuda::ConvBackend::Ichseg;
    cuda::NormBackend norm = cuda::NormBackend::Ichseg;
};

struct StepOutput {
    std::vector<double> losses;                   ///< one per step
    std::vector<std::string> names;               ///< parameter names, in the order of grads and params
    std::vector<Tensor<float>> grads;             ///< after the last backward, before the last Adam update
    std::vector<Tensor<float>> params, buffers;  ///< after the last Adam update
};

/// Sets the conv / norm backends for a scope and restores the previous ones (also when a REQUIRE throws).
class BackendGuard {
public:
    BackendGuard(cuda::ConvBackend c, cuda::NormBackend n) : conv_(cuda::conv_backend()), norm_(cuda::norm_backend()) {
        cuda::set_conv_backend(c);
        cuda::set_norm_backend(n);
    }
    ~BackendGuard() {
        cuda::set_conv_backend(conv_);
        cuda::set_norm_backend(norm_);
    }
    BackendGuard(const BackendGuard&) = delete;
    BackendGuard& operator=(const BackendGuard&) = delete;

private:
    cuda::ConvBackend conv_;
    cuda::NormBackend norm_;
};

/// The same data for every run: x uniform in [0, 1), target 1 where a second uniform draw exceeds 0.7.
inline std::pair<Tensor<float>, Tensor<float>> step_data(const Shape& xs) {
    Tensor<float> x = randu(xs, 31, 0, 1), t = randu(xs, 32, 0, 1);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = t.data()[i] > 0.7f ? 1.f : 0.f;
    return {x, t};
}

/// `s.steps` training steps from the weights manual_seed(7) gives, on `dev` (CPU or CUDA).
inline StepOutput run_steps(const StepSetup& s, Device dev) {
    const auto [x, t] = step_data(s.x_shape);
    BackendGuard backends(s.conv, s.norm);
    manual_seed(7);
    nn::UNet<float> net(s.cfg);
    if (dev.is_cuda()) move_to(net, dev);
    optim::Adam<float> opt(net.parameters(), {1e-3, 0.9, 0.999, 1e-8, 1e-6});
    cuda::PrecisionGuard guard(s.precision);
    const Tensor<float> xd = x.to(dev), td = t.to(dev);
    StepOutput r;
    for (int step = 0; step < s.steps; ++step) {
        opt.zero_grad();
        Var<float> loss = dice_loss(net(Var<float>(xd)), td, DiceParams{1.0, 0.2});
        loss.backward();
        r.losses.push_back(loss.value().to_vector()[0]);
        if (step + 1 == s.steps)
            for (auto& [name, v] : net.named_parameters()) {
                r.names.push_back(name);
                r.grads.push_back(v.grad().to(Device::cpu()));
            }
        opt.step();
    }
    for (auto& [name, v] : net.named_parameters()) r.params.push_back(v.value().to(Device::cpu()));
    for (auto& b : net.named_buffers())
        if (b.tensor->defined()) r.buffers.push_back(b.tensor->to(Device::cpu()));
    return r;
}

/// Index of the first element whose bit pattern differs, or -1 (NaN-safe: compares bits, not values).
inline int64_t first_bit_difference(const Tensor<float>& a, const Tensor<float>& b) {
    REQUIRE(a.shape() == b.shape());
    const std::vector<float> va = a.to_vector(), vb = b.to_vector();
    for (size_t i = 0; i < va.size(); ++i)
        if (std::memcmp(&va[i], &vb[i], sizeof(float)) != 0) return static_cast<int64_t>(i);
    return -1;
}

/// REQUIRE two runs to have produced identical bits: every loss, gradient, parameter and buffer.
inline void require_bitwise_equal(const StepOutput& a, const StepOutput& b) {
    REQUIRE(a.losses.size() == b.losses.size());
    for (size_t i = 0; i < a.losses.size(); ++i) {
        INFO("loss of step " << i << ": " << a.losses[i] << " vs " << b.losses[i]);
        REQUIRE(std::memcmp(&a.losses[i], &b.losses[i], sizeof(double)) == 0);
    }
    const std::pair<const std::vector<Tensor<float>>*, const std::vector<Tensor<float>>*> groups[] = {
        {&a.grads, &b.grads}, {&a.params, &b.params}, {&a.buffers, &b.buffers}};
    const char* names[] = {"gradient", "parameter", "buffer"};
    for (int g = 0; g < 3; ++g) {
        REQUIRE(groups[g].first->size() == groups[g].second->size());
        for (size_t i = 0; i < groups[g].first->size(); ++i) {
            const int64_t at = first_bit_difference((*groups[g].first)[i], (*groups[g].second)[i]);
            INFO(names[g] << " " << i << " differs first at element " << at);
            REQUIRE(at == -1);
        }
    }
}

/// True for the bias of a convolution that a training-mode batch norm follows (conv1 / conv2 of every U-Net
/// block): the batch norm subtracts the batch mean, so the loss does not depend on that bias and its exact
/// gradient is 0. A computed one is the rounding noise of a sum that cancels (about eps * sqrt(N*H*W) * rms of
/// the terms), different on every device and in every summation order: comparing two such values relatively
/// measures nothing but noise, and neither does the sign that Adam's first step p - lr * sign(g) takes from it.
inline bool gradient_is_zero_in_exact_arithmetic(const std::string& name) {
    auto ends_with = [&](const char* suffix) {
        const size_t n = std::strlen(suffix);
        return name.size() >= n && name.compare(name.size() - n, n, suffix) == 0;
    };
    return ends_with("conv1.bias") || ends_with("conv2.bias");
}

inline double max_abs(const Tensor<float>& t) {
    double m = 0;
    for (float v : t.to_vector()) m = std::max(m, std::abs(static_cast<double>(v)));
    return m;
}

/// REQUIRE a GPU step to match the CPU step (FP32). Loss relative 1e-5. Gradients 1e-3 x max (they pass through
/// ~20 FP32 convolutions and batch norms summed in different orders), except those that are 0 in exact
/// arithmetic (above): there both devices' values must be noise, below 1e-3 x max|gradient of the same conv's
/// weight| (noise is ~eps / rms(x) of that: 1e-7 for unit-scale inputs). Parameters after Adam's first step
/// p - lr * sign(g): at most 2 lr apart everywhere, and apart by more than 1e-5 in at most 1 of 1000 of the
/// parameters whose gradient is not noise (a sign flips only where a true gradient is itself near rounding).
/// Buffers (running statistics) 1e-4 x max.
inline void require_step_close_to_cpu(const StepOutput& g, const StepOutput& c) {
    REQUIRE(g.losses.size() == 1);
    REQUIRE(c.losses.size() == 1);
    INFO("loss gpu " << g.losses[0] << " cpu " << c.losses[0]);
    REQUIRE(std::abs(g.losses[0] - c.losses[0]) <= 1e-5 * std::abs(c.losses[0]));
    REQUIRE(g.grads.size() == c.grads.size());
    REQUIRE(g.names == c.names);
    auto weight_of = [&](size_t i) {
        const std::string w = c.names[i].substr(0, c.names[i].size() - 4) + "weight";
        for (size_t k = 0; k < c.names.size(); ++k)
            if (c.names[k] == w) return k;
        FAIL("no weight " << w << " beside " << c.names[i]);
        return size_t(0);
    };
    for (size_t i = 0; i < c.grads.size(); ++i) {
        INFO("gradient of parameter " << i << " (" << c.names[i] << ")");
        if (gradient_is_zero_in_exact_arithmetic(c.names[i])) {
            const double scale = max_abs(c.grads[weight_of(i)]);
            INFO("max |gpu| " << max_abs(g.grads[i]) << ", max |cpu| " << max_abs(c.grads[i]) << ", weight gradient scale "
                              << scale);
            REQUIRE(max_abs(g.grads[i]) <= 1e-3 * scale);
            REQUIRE(max_abs(c.grads[i]) <= 1e-3 * scale);
        } else {
            ICHSEG_REQUIRE_GPU_CLOSE(g.grads[i], c.grads[i], 1e-3);
        }
    }
    int64_t flipped = 0, total = 0;
    double worst = 0;
    for (size_t i = 0; i < c.params.size(); ++i) {
        const bool noise = gradient_is_zero_in_exact_arithmetic(c.names[i]);
        const auto a = g.params[i].to_vector(), b = c.params[i].to_vector();
        for (size_t k = 0; k < a.size(); ++k) {
            const double d = std::abs(static_cast<double>(a[k]) - b[k]);
            worst = std::max(worst, d);
            if (noise) continue;
            flipped += d > 1e-5;
            ++total;
        }
    }
    INFO(flipped << " of " << total << " parameters updated differently; largest difference " << worst);
    REQUIRE(worst <= 2e-3 + 1e-6);
    REQUIRE(flipped <= total / 1000);
    REQUIRE(g.buffers.size() == c.buffers.size());
    for (size_t i = 0; i < c.buffers.size(); ++i) {
        INFO("buffer " << i);
        ICHSEG_REQUIRE_GPU_CLOSE(g.buffers[i], c.buffers[i], 1e-4);
    }
}

/// Cosine of the angle between two tensors' values (1 when both are zero).
inline double cosine(const Tensor<float>& a, const Tensor<float>& b) {
    const auto va = a.to_vector(), vb = b.to_vector();
    double ab = 0, aa = 0, bb = 0;
    for (size_t k = 0; k < va.size(); ++k)
        ab += double(va[k]) * vb[k], aa += double(va[k]) * va[k], bb += double(vb[k]) * vb[k];
    if (aa == 0 && bb == 0) return 1.0;
    return ab / std::sqrt(aa * bb + 1e-300);
}

}  // namespace ichseg::test
