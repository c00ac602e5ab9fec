/// @file test_learning.cpp
/// @brief Training works end to end: a U-Net overfits a small synthetic batch to Dice > 0.9, and training is
/// bitwise reproducible for a fixed seed and thread count.
#include <catch2/catch.hpp>

#include <chrono>

#include "ichseg/loss/dice.hpp"
#include "ichseg/nn/unet.hpp"
#include "ichseg/optim/adam.hpp"

using namespace ichseg;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_learning {

namespace {
/// B images S x S: a bright disc (random centre and radius) on a noisy background (noise sd 0.25 against a
/// contrast of 0.4); the mask is the disc.
/// Sample 1 has no disc (an empty mask, as in the Mixed training sets).
void make_batch(int64_t B, int64_t S, Tensor<float>& x, Tensor<float>& t) {
    x = Tensor<float>::empty({B, 1, S, S});
    t = Tensor<float>::empty({B, 1, S, S});
    Generator gen(7);
    for (int64_t b = 0; b < B; ++b) {
        const float cx = gen.uniform(0.3f * S, 0.7f * S), cy = gen.uniform(0.3f * S, 0.7f * S);
        const float r = b == 1 ? 0.f : gen.uniform(0.12f * S, 0.25f * S);
        const uint64_t noise = gen.next_stream();
        for (int64_t i = 0; i < S; ++i)
            for (int64_t j = 0; j < S; ++j) {
                const bool in = (i - cy) * (i - cy) + (j - cx) * (j - cx) < r * r;
                t(b, 0, i, j) = in ? 1.f : 0.f;
                x(b, 0, i, j) = (in ? 0.7f : 0.3f) + 0.25f * static_cast<float>(random_normal(7, noise, i * S + j));
            }
    }
}

/// Hard Dice of the thresholded prediction over the whole batch, (2 TP + 1) / (2 TP + FP + FN + 1).
double hard_dice(const Tensor<float>& p, const Tensor<float>& t) {
    double tp = 0, fp = 0, fn = 0;
    for (int64_t i = 0; i < t.numel(); ++i) {
        const bool pr = p.data()[i] > 0.5f, gt = t.data()[i] > 0.5f;
        tp += pr && gt;
        fp += pr && !gt;
        fn += !pr && gt;
    }
    return (2 * tp + 1) / (2 * tp + fp + fn + 1);
}
}  // namespace

TEST_CASE("a U-Net overfits a small synthetic batch to Dice > 0.9", "[nn][learning]") {
    manual_seed(1);
    nn::UNetConfig cfg;
    cfg.base_width = 8;
    cfg.depth = 3;
    nn::UNet<float> net(cfg);
    optim::Adam<float> opt(net.parameters(), {1e-2, 0.9, 0.999, 1e-8, 1e-6});
    Tensor<float> x, t;
    make_batch(4, 32, x, t);
    const auto t0 = std::chrono::steady_clock::now();
    double dice = 0, first_loss = 0, loss_v = 1;
    int step = 0;
    // Overfitting: both the soft Dice loss below 0.1 and the thresholded Dice above 0.9 (pixel noise makes the
    // thresholded input alone score well below that, so the network has to learn the shape).
    for (step = 1; step <= 150 && (dice <= 0.9 || loss_v >= 0.1 || step <= 2); ++step) {
        opt.zero_grad();
        Var<float> p = net(Var<float>(x));
        Var<float> loss = dice_loss(p, t, {1.0, 0.2});
        loss.backward();
        opt.step();
        loss_v = loss.value()(0);
        if (step == 1) first_loss = loss_v;
        dice = hard_dice(p.value(), t);  // of this step's (train-mode) prediction, as the demo prints it
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    INFO("steps " << step - 1 << ", loss " << first_loss << " -> " << loss_v << ", Dice " << dice << ", " << secs
                  << " s");
    CHECK(loss_v < first_loss);
    CHECK(loss_v < 0.1);
    REQUIRE(dice > 0.9);
}

namespace {
std::vector<std::vector<float>> train_steps(int threads, int steps) {
    const int saved = num_threads();
    set_num_threads(threads);
    Generator gen(123);
    nn::UNetConfig cfg;
    cfg.base_width = 8;
    cfg.depth = 3;
    cfg.dropout = 0.5;  // the dropout masks must be reproducible too
    nn::UNet<float> net(cfg, gen);
    optim::Adam<float> opt(net.parameters(), {1e-3, 0.9, 0.999, 1e-8, 1e-6});
    Tensor<float> x, t;
    make_batch(2, 32, x, t);  // 32x32 with >= 8 channels: im2col, Winograd F(2x2) and F(4x4) all run
    for (int s = 0; s < steps; ++s) {
        opt.zero_grad();
        Var<float> loss = dice_loss(net(Var<float>(x)), t, {1.0, 0.2});
        loss.backward();
        opt.step();
    }
    std::vector<std::vector<float>> w;
    for (auto& [n, v] : net.named_parameters()) w.push_back(v.value().to_vector());
    for (auto& b : net.named_buffers()) w.push_back(b.tensor->to_vector());
    set_num_threads(saved);
    return w;
}
}  // namespace

TEST_CASE("same seed and thread count give bitwise-identical weights after N Adam steps", "[nn][determinism]") {
    const auto a = train_steps(2, 4), b = train_steps(2, 4);
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == b[i]);  // operator== on float vectors: bitwise here
    const auto c = train_steps(1, 4), d = train_steps(1, 4);
    for (size_t i = 0; i < c.size(); ++i) REQUIRE(c[i] == d[i]);
    // Informative only: different thread counts may split reductions differently.
    size_t differ = 0;
    for (size_t i = 0; i < a.size(); ++i) differ += a[i] != c[i];
    WARN("weights after 4 steps with 1 vs 2 threads: " << differ << " of " << a.size() << " tensors differ");
}

}  // namespace test_learning
