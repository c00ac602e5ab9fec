/// @file test_unet_fused_inference.cpp
/// @brief The U-Net blocks' conv -> BN -> ReLU units (nn::conv_bn_relu, nn/unet.hpp) run as one convolution with the
/// batch norm in its epilogue exactly when that is equivalent (evaluation mode under NoGradGuard), and as the two
/// modules otherwise. Compared against the same network evaluated module by module (unfused_logits below).
///
///  - eval + no grad: the fused network equals the unfused one within a tolerance (below); the intermediate
///    convolution output is never allocated (peak memory of one unit); the batched inference of predict/ (used by
///    the Segmenter and ichseg_predict) gets the fused path;
///  - train mode, and eval mode with gradients: the same modules run, so output, gradients and running statistics
///    are equal bit for bit.
/// Tolerance of the fused network, relative to the largest logit: each fused unit differs from the unfused one by at
/// most 4 u (|c a| + |b|) per element (u = 2^-24, tests/ops/test_conv2d_bn.cpp), i.e. a few ulp of the layer's scale;
/// 10 units (depth 3: 5 blocks x 2) with layer gains of order one add up to ~40 u ~ 2.4e-6; 1e-5 allows a gain of 4.
/// In BF16 a difference of one FP32 ulp in a unit's output can flip the BF16 rounding of the next unit's input
/// (2^-8 relative for that element), so the BF16 comparison allows one BF16 rounding of the output scale, 2^-8.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "ichseg/core/allocator.hpp"
#include "ichseg/cpu/bf16.hpp"
#include "ichseg/nn/unet.hpp"
#include "ichseg/predict/inference.hpp"
#include "support/fill.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_unet_fused_inference {

namespace {
nn::UNetConfig small_config() {
    nn::UNetConfig cfg;
    cfg.base_width = 8;
    cfg.depth = 3;
    return cfg;
}

/// A U-Net with batch-norm weights, biases and running statistics far from their initial 1 / 0 / 0 / 1 (identical
/// for two networks built with the same seed).
std::unique_ptr<nn::UNet<float>> make_net(uint64_t seed) {
    Generator gen(seed);
    auto net = std::make_unique<nn::UNet<float>>(small_config(), gen);
    uint64_t stream = 100;
    for (auto& [name, p] : net->named_parameters())
        if (name.find(".bn") != std::string::npos) {
            const bool is_weight = name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0;
            const Tensor<float> v = uniform<float>(p.shape(), ++stream, is_weight ? 0.5 : -0.3, is_weight ? 1.5 : 0.3);
            std::copy(v.data(), v.data() + v.numel(), p.mutable_value().data());
        }
    for (auto& b : net->named_buffers()) {
        if (b.name.find("running_mean") != std::string::npos) *b.tensor = uniform<float>(b.tensor->shape(), ++stream, -0.2, 0.2);
        if (b.name.find("running_var") != std::string::npos) *b.tensor = uniform<float>(b.tensor->shape(), ++stream, 0.2, 2.0);
    }
    return net;
}

/// conv -> BN -> ReLU as two modules, as the U-Net blocks ran before the fusion.
Var<float> unit(nn::Conv2d<float>& conv, nn::BatchNorm2d<float>& bn, const Var<float>& x) {
    return bn.forward_relu(conv.forward(x));
}
/// The U-Net's logits evaluated module by module, never through conv_bn_relu (dropout is 0 in small_config()).
Var<float> unfused_logits(nn::UNet<float>& net, const Var<float>& x) {
    std::vector<Var<float>> feats;
    Var<float> h = x;
    for (size_t i = 0; i < net.encoder->blocks.size(); ++i) {
        auto& b = *net.encoder->blocks[i];
        if (i > 0) h = max_pool2d(h);
        h = unit(*b.conv2, *b.bn2, unit(*b.conv1, *b.bn1, h));
        feats.push_back(h);
    }
    h = feats.back();
    for (size_t i = 0; i < net.decoder->blocks.size(); ++i) {
        auto& b = *net.decoder->blocks[i];
        const Var<float> u = concat<float>({feats[feats.size() - 2 - i], b.up->forward(h)}, 1);
        h = unit(*b.conv2, *b.bn2, unit(*b.conv1, *b.bn1, u));
    }
    return net.head->forward(h);
}

double max_abs(const Tensor<float>& t) {
    double m = 0;
    for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::abs(static_cast<double>(t.data()[i])));
    return m;
}
/// max |a - b| / max |b|.
double scaled_diff(const Tensor<float>& a, const Tensor<float>& b) {
    REQUIRE(a.shape() == b.shape());
    double d = 0;
    for (int64_t i = 0; i < a.numel(); ++i) d = std::max(d, std::abs(static_cast<double>(a.data()[i]) - b.data()[i]));
    return d / max_abs(b);
}
}  // namespace

TEST_CASE("U-Net in eval mode under no-grad: the fused conv+BN+ReLU units equal the unfused modules",
          "[nn][unet][fused]") {
    auto net = make_net(5);
    net->eval();
    const Tensor<float> x = uniform<float>({2, 1, 32, 32}, 9, -1.0, 2.0);
    NoGradGuard no_grad;
    const Tensor<float> fused = net->forward_logits(Var<float>(x)).value();
    const Tensor<float> unfused = unfused_logits(*net, Var<float>(x)).value();
    const double d = scaled_diff(fused, unfused);
    INFO("max |fused - unfused| / max |logit| = " << d << " (max |logit| " << max_abs(unfused) << ")");
    CHECK(d <= 1e-5);
    SECTION("BF16 products (AMX / VDPBF16PS where present, else the FP32 fallback bit for bit)") {
        const PrecisionGuard bf16(Precision::BF16);
        const Tensor<float> fb = net->forward_logits(Var<float>(x)).value();
        if (!cpu::bf16_available()) {
            CHECK(fb.to_vector() == fused.to_vector());
        } else {
            const Tensor<float> ub = unfused_logits(*net, Var<float>(x)).value();
            const double db = scaled_diff(fb, ub);
            INFO("BF16 (" << cpu::bf16_status() << "): max |fused - unfused| / max |logit| = " << db);
            CHECK(db <= 1.0 / 256);
        }
    }
}

TEST_CASE("U-Net in train mode and in eval mode with gradients: unchanged bit for bit", "[nn][unet][fused]") {
    const Tensor<float> x = uniform<float>({2, 1, 32, 32}, 11, -1.0, 2.0);
    const Tensor<float> seed = uniform<float>({2, 1, 32, 32}, 12, -1.0, 1.0);
    for (bool training : {true, false}) {
        INFO((training ? "train mode" : "eval mode with gradients"));
        auto a = make_net(5), b = make_net(5);
        a->train(training);
        b->train(training);
        Var<float> ya = a->forward_logits(Var<float>(x));
        Var<float> yb = unfused_logits(*b, Var<float>(x));
        REQUIRE(ya.requires_grad());
        CHECK(ya.value().to_vector() == yb.value().to_vector());
        ya.backward(seed);
        yb.backward(seed);
        const auto pa = a->named_parameters(), pb = b->named_parameters();
        REQUIRE(pa.size() == pb.size());
        for (size_t i = 0; i < pa.size(); ++i) {
            INFO("gradient of " << pa[i].first);
            REQUIRE(pa[i].second.grad().defined());
            CHECK(pa[i].second.grad().to_vector() == pb[i].second.grad().to_vector());
        }
        const auto ba = a->named_buffers(), bb = b->named_buffers();
        for (size_t i = 0; i < ba.size(); ++i) {
            INFO("buffer " << ba[i].name);
            CHECK(ba[i].tensor->to_vector() == bb[i].tensor->to_vector());
        }
    }
}

TEST_CASE("a fused unit never allocates the convolution's output: one activation at peak instead of two",
          "[nn][unet][fused]") {
    Generator gen(3);
    nn::Conv2d<float> conv(16, 32, 3, Conv2dParams::same(3), true, gen);
    nn::BatchNorm2d<float> bn(32);
    conv.eval();
    bn.eval();
    const Tensor<float> x = uniform<float>({2, 16, 64, 64}, 4);
    const int64_t y_bytes = 2 * 32 * 64 * 64 * static_cast<int64_t>(sizeof(float));
    NoGradGuard no_grad;
    auto peak_growth = [&](auto&& f) {
        const int64_t before = cpu_memory_stats().current.load();
        reset_peak_memory();
        { const Var<float> y = f(); }
        return cpu_memory_stats().peak.load() - before;
    };
    const int64_t fused = peak_growth([&] { return nn::conv_bn_relu(conv, bn, Var<float>(x)); });
    const int64_t unfused = peak_growth([&] { return bn.forward_relu(conv.forward(Var<float>(x))); });
    INFO("peak growth: fused " << fused << " B, unfused " << unfused << " B, one activation " << y_bytes << " B");
    CHECK(fused < y_bytes + 4096);  // the output and the 2 x 32 scale and shift values
    CHECK(unfused >= 2 * y_bytes);  // the convolution's output and the batch norm's
}

TEST_CASE("predict's batched inference (Segmenter, ichseg_predict) runs the fused units", "[nn][unet][fused]") {
    auto net = make_net(6);
    const int64_t n = 3, H = 32, W = 32;
    const Tensor<float> x = uniform<float>({n, 1, H, W}, 13, -1.0, 2.0);
    net->train();  // batched_probabilities itself switches to eval mode and no-grad
    const Tensor<float> p = predict::batched_probabilities(*net, Device::cpu(), n, H, W, 2, [&](int64_t i, float* dst) {
        std::copy(x.data() + i * H * W, x.data() + (i + 1) * H * W, dst);
    });
    CHECK_FALSE(net->is_training());
    NoGradGuard no_grad;
    const Tensor<float> ref = sigmoid(unfused_logits(*net, Var<float>(x))).value();
    double d = 0;
    for (int64_t i = 0; i < p.numel(); ++i) d = std::max(d, std::abs(static_cast<double>(p.data()[i]) - ref.data()[i]));
    // sigmoid has slope <= 1/4: the logits' tolerance carries over (probabilities are <= 1)
    INFO("max |p_fused - p_unfused| = " << d);
    CHECK(d <= 1e-5 * std::max(1.0, max_abs(unfused_logits(*net, Var<float>(x)).value())));
}

}  // namespace test_unet_fused_inference
