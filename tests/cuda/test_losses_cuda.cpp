/// @file test_losses_cuda.cpp
/// @brief The fused losses on the GPU against the CPU: value (relative 1e-6: both reduce in double, in
/// different orders, from FP32 terms) and gradient (1e-5 x max: FP32 per-element math on both sides).
#include "cuda_support.hpp"
#include "ichseg/loss/bce_with_logits.hpp"
#include "ichseg/ops/arithmetic.hpp"
#include "ichseg/loss/cross_entropy.hpp"
#include "ichseg/loss/dice.hpp"
#include "ichseg/loss/local_contrastive.hpp"
#include "ichseg/loss/mse.hpp"
#include "ichseg/loss/nt_xent.hpp"

using namespace ichseg;
using test::gpu;

namespace {
template <class T>
void require_same_loss(const LossAndGrad<T>& g, const LossAndGrad<T>& c, double grad_tol) {
    INFO("loss gpu " << g.value << " cpu " << c.value);
    REQUIRE(std::abs(g.value - c.value) <= 1e-6 * std::max(1.0, std::abs(c.value)));
    REQUIRE(g.grads.size() == c.grads.size());
    for (size_t i = 0; i < c.grads.size(); ++i) {
        REQUIRE(g.grads[i].device().is_cuda());
        ICHSEG_REQUIRE_GPU_CLOSE(g.grads[i], c.grads[i], grad_tol);
    }
}
}  // namespace

TEST_CASE("soft and mixed Dice on CUDA match the CPU", "[cuda][loss][dice]") {
    for (const Shape& s : {Shape{32, 1, 64, 64}, Shape{3, 1, 17, 19}, Shape{1, 1, 256, 256}, Shape{5, 7}}) {
        Tensor<float> p = test::randu(s, 1, 0.0, 1.0), t = test::randu(s, 2, 0.0, 1.0);
        for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = t.data()[i] > 0.8f ? 1.f : 0.f;
        // empty target in sample 0 exercises the mixed-Dice weight
        const int64_t M = t.numel() / s[0];
        for (int64_t i = 0; i < M; ++i) t.data()[i] = 0.f;
        for (double alpha : {1.0, 0.2}) {
            INFO(to_string(s) << " alpha " << alpha);
            const DiceParams dp{1.0, alpha};
            require_same_loss(dice_loss_value_and_grad(gpu(p), gpu(t), dp), dice_loss_value_and_grad(p, t, dp), 1e-5);
        }
    }
}

TEST_CASE("BCE with logits, cross-entropy and MSE on CUDA match the CPU", "[cuda][loss]") {
    const Tensor<float> x = test::randu({32, 7}, 1, -4, 4), pw = test::randu({7}, 2, 0.5, 5);
    Tensor<float> t = test::randu({32, 7}, 3, 0, 1);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = t.data()[i] > 0.6f ? 1.f : 0.f;
    require_same_loss(bce_with_logits_loss_value_and_grad(gpu(x), gpu(t), gpu(pw)),
                      bce_with_logits_loss_value_and_grad(x, t, pw), 1e-6);
    require_same_loss(bce_with_logits_loss_value_and_grad(gpu(x), gpu(t), Tensor<float>()),
                      bce_with_logits_loss_value_and_grad(x, t, Tensor<float>()), 1e-6);
    Tensor<int64_t> labels = Tensor<int64_t>::empty({32});
    for (int64_t b = 0; b < 32; ++b) labels.data()[b] = b % 7;
    require_same_loss(cross_entropy_loss_value_and_grad(gpu(x), labels), cross_entropy_loss_value_and_grad(x, labels),
                      1e-6);
    labels.data()[3] = 9;
    REQUIRE_THROWS_WITH(cross_entropy_loss_value_and_grad(gpu(x), labels), Catch::Contains("outside [0, 7)"));
    const Tensor<float> y = test::randu({4, 1, 64, 64}, 4), yt = test::randu({4, 1, 64, 64}, 5);
    require_same_loss(mse_loss_value_and_grad(gpu(y), gpu(yt)), mse_loss_value_and_grad(y, yt), 1e-6);
}

TEST_CASE("NT-Xent and local contrastive on CUDA match the CPU", "[cuda][loss][contrastive]") {
    for (const Shape& s : {Shape{120, 128}, Shape{6, 5}, Shape{2, 3}}) {
        INFO(to_string(s));
        const Tensor<float> z = test::randu(s, 1);
        require_same_loss(nt_xent_loss_value_and_grad(gpu(z), 0.1), nt_xent_loss_value_and_grad(z, 0.1), 1e-5);
    }
    const Tensor<float> f1 = test::randu({3, 32, 30, 33}, 2), f2 = test::randu({3, 32, 30, 33}, 3);
    Generator gen(5);
    const Tensor<int64_t> cells = sample_cells(3, (30 / 3) * (33 / 3), 20, gen);
    const LocalContrastiveParams lp{3, 0.1};
    require_same_loss(local_contrastive_loss_value_and_grad(gpu(f1), gpu(f2), cells, lp),
                      local_contrastive_loss_value_and_grad(f1, f2, cells, lp), 1e-5);
}

TEST_CASE("a loss node scales its CUDA gradient by the incoming gradient", "[cuda][loss]") {
    const Tensor<float> p = test::randu({2, 1, 8, 8}, 1, 0, 1), t = test::randu({2, 1, 8, 8}, 2, 0, 1);
    Var<float> pc(p.clone(), true), pg(gpu(p), true);
    Var<float> lc = scale(dice_loss(pc, t), 3.0f), lg = scale(dice_loss(pg, gpu(t)), 3.0f);
    lc.backward();
    lg.backward();
    ICHSEG_REQUIRE_GPU_CLOSE(pg.grad(), pc.grad(), 1e-5);
}
