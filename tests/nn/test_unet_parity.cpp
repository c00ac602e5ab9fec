/// @file test_unet_parity.cpp
/// @brief End-to-end parity with PyTorch: a small U-Net (base width 4, depth 4, mid_channels_factor 2, batch 3
/// of 64x64 with one empty mask) loaded from a state_dict that PyTorch wrote to safetensors (I64
/// num_batches_tracked, non-default running statistics) gives PyTorch's forward output, mixed Dice loss
/// (alpha 0.2) and every parameter gradient, in train mode (batch statistics, plus the updated running
/// statistics) and eval mode (running statistics). Also EncoderMLP and PartialUNet forward parity.
#include <catch2/catch.hpp>

#include <map>

#include "ichseg/loss/dice.hpp"
#include "ichseg/nn/checkpoint.hpp"
#include "ichseg/nn/unet.hpp"
#include "support/golden.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_unet_parity {

namespace {
/// The golden config tensor: in, out, base width, depth, mid_channels_factor.
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

// Tolerance of the float32 parity. Both sides compute in float32 with different summation orders and
// algorithms (im2col GEMM and Winograd here, oneDNN there), so neither is "the" answer; the reference for
// both is the same network in double (second test case). Measured against double: the outputs of both agree
// to < 1e-6 of their scale and the loss to < 1e-6 relative; PyTorch's float32 parameter gradients deviate by
// up to 7e-5 of each tensor's scale (e.g. eval-mode bias gradients, float sums over 3 * 64 * 64 pixels),
// ichseg's by < 1e-5 (with im2col / Winograd F(2x2) and F(4x4) forward convolutions). Allowed: 1e-5 of the scale for the
// output, 1e-5 relative for the loss and the running statistics, 3e-4 of the scale for gradients (about 4x
// PyTorch's own float32 error). A wrong derivative or a mismatched layer gives O(1) errors.
// The batch keeps every ReLU and max-pool decision off its kink (tests/golden/gen_golden.py checks it), so
// a different float32 rounding cannot legitimately send a gradient down the other branch (docs/ops.md §7).
constexpr double kOutRel = 1e-5, kGradRel = 3e-4, kLossRel = 1e-5, kStatRel = 1e-5;

/// The scale a gradient's rounding error is measured against: its own largest element, or, if larger, that of
/// the weight gradient of the same module. In train mode the bias of a conv followed by batch norm has an exact
/// gradient of 0 (the batch mean cancels it), so its computed value is pure rounding noise at the scale of the
/// quantities it was computed from, which is the scale of the layer's weight gradient.
template <class G>
double grad_scale(const std::string& name, const Tensor<float>& expected, G&& expected_of) {
    double s = max_abs(expected);
    const std::string suffix = ".bias";
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
        s = std::max(s, max_abs(expected_of(name.substr(0, name.size() - suffix.size()) + ".weight")));
    return s;
}

template <class T>
struct PassResult {
    Tensor<T> y;
    double loss;
    std::vector<std::pair<std::string, Tensor<T>>> grads;
};

template <class T>
PassResult<T> run_pass(nn::UNet<T>& net, bool training) {
    nn::load_state_dict(net, golden_path("unet_state"));
    net.train(training);
    net.zero_grad();
    Var<T> y = net(Var<T>(gold<T>("unet_parity", "x")));
    Var<T> loss = dice_loss(y, gold<T>("unet_parity", "t"), {1.0, 0.2});
    loss.backward();
    PassResult<T> r{y.value(), static_cast<double>(loss.value()(0)), {}};
    for (auto& [name, p] : net.named_parameters()) r.grads.emplace_back(name, p.grad());
    return r;
}
}  // namespace

TEST_CASE("UNet loads a PyTorch state_dict and matches PyTorch in train and eval mode", "[nn][parity][golden]") {
    const auto cfg = golden_config();
    nn::UNet<float> net(cfg);
    REQUIRE(net.num_parameters() > 0);
    for (const std::string mode : {"train", "eval"}) {
        INFO("mode " << mode);
        auto r = run_pass(net, mode == "train");
        const auto ey = gold<float>("unet_parity", mode + ".y");
        REQUIRE(r.y.shape() == ey.shape());
        ICHSEG_REQUIRE_CLOSE_SCALED(r.y, ey, kOutRel);
        CHECK(r.loss == Approx(gold<float>("unet_parity", mode + ".loss")(0)).epsilon(kLossRel));
        REQUIRE(r.grads.size() == net.named_parameters().size());
        for (auto& [name, g] : r.grads) {
            INFO("gradient of " << name);
            REQUIRE(g.defined());
            const auto eg = gold<float>("unet_parity", mode + ".grad." + name);
            REQUIRE(g.shape() == eg.shape());
            const double scale = grad_scale(name, eg, [&](const std::string& k) {
                return gold<float>("unet_parity", mode + ".grad." + k);
            });
            ICHSEG_REQUIRE_CLOSE(g, eg, kGradRel * scale, kGradRel);
        }
        if (mode == "train") {
            // BN buffers after the train-mode forward: running stats updated, num_batches_tracked 3 -> 4
            int checked = 0;
            for (auto& b : net.named_buffers()) {
                INFO("buffer " << b.name);
                const auto eb = gold<float>("unet_parity", "train.state." + b.name);
                ICHSEG_REQUIRE_CLOSE(*b.tensor, eb, kStatRel, kStatRel);
                ++checked;
            }
            CHECK(checked == 6 * (2 * cfg.depth - 1));  // 2 BNs x 3 buffers per block, 2 depth - 1 blocks
            CHECK(net.encoder->blocks[0]->bn1->num_batches_tracked.data()[0] == 4.f);
        } else {
            CHECK(net.encoder->blocks[0]->bn1->num_batches_tracked.data()[0] == 3.f);  // eval does not count
        }
    }
}

TEST_CASE("UNet parity tolerance is of the size of ichseg's own float-vs-double difference", "[nn][parity][golden]") {
    // The double network (same weights) is ~float32-exact; PyTorch float32 and ichseg float32 must both be
    // close to it. This shows the parity tolerance above measures rounding, not a modelling difference.
    const auto cfg = golden_config();
    nn::UNet<double> netd(cfg);
    nn::UNet<float> netf(cfg);
    for (bool training : {true, false}) {
        auto rd = run_pass(netd, training);
        auto rf = run_pass(netf, training);
        const std::string mode = training ? "train" : "eval";
        ICHSEG_REQUIRE_CLOSE_SCALED(rf.y, rd.y, kOutRel);
        const auto ey = gold<float>("unet_parity", mode + ".y");
        ICHSEG_REQUIRE_CLOSE_SCALED(ey, rd.y, kOutRel);
        std::map<std::string, Tensor<float>> exact;  // the double gradients, as float
        for (auto& [name, g] : rd.grads) exact[name] = g.template cast<float>();
        for (size_t i = 0; i < rd.grads.size(); ++i) {
            const std::string& name = rd.grads[i].first;
            INFO(mode << " gradient of " << name);
            const double scale = grad_scale(name, exact[name], [&](const std::string& k) { return exact.at(k); });
            ICHSEG_REQUIRE_CLOSE(rf.grads[i].second, rd.grads[i].second, kGradRel * scale, kGradRel);
            const auto eg = gold<float>("unet_parity", mode + ".grad." + name);
            ICHSEG_REQUIRE_CLOSE(eg, rd.grads[i].second, kGradRel * scale, kGradRel);
            // the conv biases in front of train-mode batch norm have an exact gradient of 0
            if (training && name.find("conv") != std::string::npos && name.find(".bias") != std::string::npos)
                CHECK(max_abs(rd.grads[i].second) < 1e-12 * scale);
        }
    }
}

TEST_CASE("EncoderMLP and PartialUNet load PyTorch weights and match PyTorch's forward", "[nn][parity][golden]") {
    nn::UNetConfig cfg;
    cfg.base_width = 4;
    cfg.depth = 4;
    cfg.mid_channels_factor = 2;
    const auto x = gold<float>("encoder_heads_parity", "x");
    // Same rounding argument as the U-Net (fewer layers): 1e-4 of the output's scale.
    {
        nn::EncoderMLP<float> enc(cfg, {32, 16, 8});
        nn::load_state_dict(enc, golden_path("encoder_mlp_state"));
        enc.train();
        const auto yt = gold<float>("encoder_heads_parity", "encoder_mlp.train.y");
        auto y = enc(Var<float>(x)).value();
        REQUIRE(y.shape() == yt.shape());
        ICHSEG_REQUIRE_CLOSE_SCALED(y, yt, kOutRel);
        enc.eval();  // running statistics after that one train-mode forward, as on the PyTorch side
        const auto ye = gold<float>("encoder_heads_parity", "encoder_mlp.eval.y");
        auto y2 = enc(Var<float>(x)).value();
        ICHSEG_REQUIRE_CLOSE_SCALED(y2, ye, kOutRel);
    }
    {
        nn::PartialUNet<float> pun(cfg, 2, {8, 16, 4});
        nn::load_state_dict(pun, golden_path("partial_unet_state"));
        pun.train();
        const auto yt = gold<float>("encoder_heads_parity", "partial_unet.train.y");
        auto y = pun(Var<float>(x)).value();
        REQUIRE(y.shape() == yt.shape());
        ICHSEG_REQUIRE_CLOSE_SCALED(y, yt, kOutRel);
        pun.eval();
        const auto ye = gold<float>("encoder_heads_parity", "partial_unet.eval.y");
        auto y2 = pun(Var<float>(x)).value();
        ICHSEG_REQUIRE_CLOSE_SCALED(y2, ye, kOutRel);
    }
}

}  // namespace test_unet_parity
