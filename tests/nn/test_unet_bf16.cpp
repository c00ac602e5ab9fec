/// @file test_unet_bf16.cpp
/// @brief A BF16 mixed-precision training step of the parity U-Net (base width 4, depth 4, batch 3 of 64 x 64,
/// train mode) against PyTorch's step under torch.autocast("cpu", dtype=torch.bfloat16), both measured against the
/// same step in float64 (tests/golden/gen_golden.py, gen_unet_bf16_step). Only the forward pass runs under the
/// PrecisionGuard, as with autocast: the tape records the precision and the backward pass uses it.
///
/// Tolerance: BF16 keeps 8 significant bits, so every convolution operand carries a relative error up to 2^-8 and
/// a ReLU / max-pool decision within ~0.5 % of the activation scale of its kink may go either way; the effects add up
/// over the 21 layers and through train-mode batch norm. No closed bound is useful here, so the reference is
/// PyTorch's own BF16 error: for each tensor, ichseg's deviation from float64 (relative to the tensor's scale, as in
/// test_unet_parity.cpp) must stay within twice PyTorch's deviation plus 2^-8 (one BF16 rounding of the scale,
/// for tensors where PyTorch happens to be very close). The golden file stores PyTorch's deviation per tensor.
/// Where the build has no BF16 product instructions, the step must be the FP32 step, bit for bit (the fallback).
#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include "ichseg/cpu/bf16.hpp"
#include "ichseg/loss/dice.hpp"
#include "ichseg/nn/checkpoint.hpp"
#include "ichseg/nn/unet.hpp"
#include "ichseg/optim/adam.hpp"
#include "support/golden.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

namespace test_unet_bf16 {

namespace {
nn::UNetConfig golden_config() {
    const auto c = gold<int64_t>("unet_parity", "config");
    nn::UNetConfig cfg;
    cfg.in_channels = c(0);
    cfg.out_channels = c(1);
    cfg.base_width = c(2);
    cfg.depth = c(3);
    cfg.mid_channels_factor = c(4);
    return cfg;
}

struct Step {
    Tensor<float> y;
    double loss = 0;
    std::map<std::string, Tensor<float>> grads, after;
    std::map<std::string, Tensor<float>> stats;
};

/// Forward under `prec` (the only guarded part), Dice loss, backward, one Adam step (lr 1e-3, weight decay 1e-6).
Step run_step(Precision prec) {
    nn::UNet<float> net(golden_config());
    nn::load_state_dict(net, golden_path("unet_state"));
    net.train();
    net.zero_grad();
    Var<float> y;
    {
        const PrecisionGuard guard(prec);
        y = net(Var<float>(gold<float>("unet_parity", "x")));
    }
    Var<float> loss = dice_loss(y, gold<float>("unet_parity", "t"), {1.0, 0.2});
    loss.backward();
    Step s;
    s.y = y.value();
    s.loss = static_cast<double>(loss.value()(0));
    for (auto& [name, p] : net.named_parameters()) s.grads[name] = p.grad().clone();
    for (auto& b : net.named_buffers())
        if (b.name.find("running") != std::string::npos) s.stats[b.name] = b.tensor->clone();
    optim::Adam<float> opt(net.parameters(), {1e-3, 0.9, 0.999, 1e-8, 1e-6});
    opt.step();
    for (auto& [name, p] : net.named_parameters()) s.after[name] = p.value().clone();
    return s;
}

double max_dev(const Tensor<float>& a, const Tensor<double>& ref, double scale) {
    double m = 0;
    for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::abs(double(a.data()[i]) - ref.data()[i]));
    return m / scale;
}

/// As grad_scale in test_unet_parity.cpp: the tensor's largest element, or that of the same module's weight
/// gradient for a bias (whose exact gradient is 0 in front of train-mode batch norm).
double grad_scale(const std::string& name, const std::map<std::string, Tensor<double>>& ref) {
    double s = max_abs(ref.at(name));
    const std::string suffix = ".bias";
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        const auto w = ref.find(name.substr(0, name.size() - suffix.size()) + ".weight");
        if (w != ref.end()) s = std::max(s, max_abs(w->second));
    }
    return s;
}
}  // namespace

TEST_CASE("UNet training step in BF16 against PyTorch's bf16 autocast step", "[nn][bf16][golden]") {
    const Step b = run_step(Precision::BF16);
    if (!cpu::bf16_available()) {
        // No BF16 products in this build: the BF16 request must compute exactly the FP32 step.
        WARN(cpu::bf16_status());
        const Step f = run_step(Precision::FP32);
        REQUIRE(b.y.to_vector() == f.y.to_vector());
        CHECK(b.loss == f.loss);
        for (auto& [name, g] : f.grads) {
            INFO("gradient of " << name);
            CHECK(b.grads.at(name).to_vector() == g.to_vector());
        }
        return;
    }
    INFO(cpu::bf16_status());
    const double u = std::ldexp(1.0, -8);  // BF16 unit roundoff (8 significant bits)
    // Output
    const auto ref_y = gold<double>("unet_bf16_step", "ref.y");
    const double dev_y = max_dev(b.y, ref_y, max_abs(ref_y));
    const double pt_y = gold<double>("unet_bf16_step", "bf16dev.y")(0);
    INFO("output: ichseg " << dev_y << ", PyTorch " << pt_y << " of scale");
    CHECK(dev_y <= 2 * pt_y + u);
    // Loss (a mean over 3 x 64 x 64 outputs: far below the output's per-element error)
    const double ref_loss = gold<double>("unet_bf16_step", "ref.loss")(0);
    const double pt_loss = gold<float>("unet_bf16_step", "bf16.loss")(0);
    INFO("loss: ichseg " << b.loss << ", PyTorch " << pt_loss << ", float64 " << ref_loss);
    CHECK(std::abs(b.loss - ref_loss) <= 2 * std::abs(pt_loss - ref_loss) + u * std::abs(ref_loss));
    // Gradients
    std::map<std::string, Tensor<double>> ref_g;
    for (auto& [name, g] : b.grads) ref_g[name] = gold<double>("unet_bf16_step", "ref.grad." + name);
    double worst_ratio = 0;
    for (auto& [name, g] : b.grads) {
        const double scale = grad_scale(name, ref_g);
        const double dev = max_dev(g, ref_g.at(name), scale);
        const double pt = gold<double>("unet_bf16_step", "bf16dev.grad." + name)(0);
        INFO("gradient of " << name << ": ichseg " << dev << ", PyTorch " << pt << " of scale");
        CHECK(dev <= 2 * pt + u);
        worst_ratio = std::max(worst_ratio, dev / (pt + u));
    }
    // Running statistics: FP32 batch statistics of BF16-product activations
    for (auto& [name, st] : b.stats) {
        const auto ref = gold<double>("unet_bf16_step", "ref.state." + name);
        const auto pt = gold<float>("unet_bf16_step", "bf16.state." + name);
        double pt_dev = 0;
        for (int64_t i = 0; i < pt.numel(); ++i) pt_dev = std::max(pt_dev, std::abs(double(pt.data()[i]) - ref.data()[i]));
        const double dev = max_dev(st, ref, 1.0) ;
        INFO("buffer " << name << ": ichseg " << dev << ", PyTorch " << pt_dev);
        CHECK(dev <= 2 * pt_dev + u * max_abs(ref));
    }
    // Adam on FP32 master weights: where the gradient's sign is certain (|g| above both BF16 errors), the first
    // step moves the parameter by lr (m / sqrt(v) = sign g), as in PyTorch.
    int compared = 0;
    for (auto& [name, after] : b.after) {
        const auto pt_after = gold<float>("unet_bf16_step", "bf16.after." + name);
        const auto& g = ref_g.at(name);
        const double noise = 4 * (gold<double>("unet_bf16_step", "bf16dev.grad." + name)(0) + u) * grad_scale(name, ref_g);
        for (int64_t i = 0; i < after.numel(); ++i) {
            if (std::abs(g.data()[i]) <= noise) continue;
            INFO("parameter " << name << "[" << i << "]");
            REQUIRE(std::abs(after.data()[i] - pt_after.data()[i]) <= 1e-6 + 1e-4 * std::abs(pt_after.data()[i]));
            ++compared;
        }
    }
    CHECK(compared > 100);
    WARN("BF16 U-Net step: worst gradient deviation " << worst_ratio << "x PyTorch bf16 autocast's; " << compared
         << " Adam-updated parameters compared");
}

}  // namespace test_unet_bf16
