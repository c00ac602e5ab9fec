/// @file test_losses_cuda.cpp
/// @brief Every loss entry point on the GPU against the CPU: the fused tensor-level X_loss_value_and_grad (value
/// relative 1e-6: both reduce in double, in different orders, from FP32 terms; gradient 1e-5 x max: FP32
/// per-element math on both sides, unless a line says otherwise), the tape node of each loss scaled by a random
/// incoming gradient, index arguments (labels, cells) on either device, and the dispatch's refusals (double
/// tensors, mixed devices) naming the loss, the dtype and the device.
#include "cuda_support.hpp"
#include "ichseg/loss/bce_with_logits.hpp"
#include "ichseg/loss/cross_entropy.hpp"
#include "ichseg/loss/dice.hpp"
#include "ichseg/loss/local_contrastive.hpp"
#include "ichseg/loss/mse.hpp"
#include "ichseg/loss/nt_xent.hpp"
#include "ichseg/ops/arithmetic.hpp"

using namespace ichseg;
using test::gpu;
using VV = std::vector<Var<float>>;

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
/// Binary targets (1 where a uniform draw exceeds `above`).
Tensor<float> binary(const Shape& s, uint64_t stream, float above) {
    Tensor<float> t = test::randu(s, stream, 0.0, 1.0);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = t.data()[i] > above ? 1.f : 0.f;
    return t;
}
/// `t` on the device of `v` (the CPU run of compare_forward_backward keeps it, the GPU run moves it).
Tensor<float> like(const Var<float>& v, const Tensor<float>& t) { return t.to(v.device()); }
}  // namespace

TEST_CASE("soft and mixed Dice on CUDA match the CPU", "[cuda][loss][dice]") {
    for (const Shape& s : {Shape{32, 1, 64, 64}, Shape{3, 1, 17, 19}, Shape{1, 1, 256, 256}, Shape{5, 7}}) {
        Tensor<float> p = test::randu(s, 1, 0.0, 1.0), t = binary(s, 2, 0.8f);
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
    const Tensor<float> t = binary({32, 7}, 3, 0.6f);
    require_same_loss(bce_with_logits_loss_value_and_grad(gpu(x), gpu(t), gpu(pw)),
                      bce_with_logits_loss_value_and_grad(x, t, pw), 1e-6);
    require_same_loss(bce_with_logits_loss_value_and_grad(gpu(x), gpu(t), Tensor<float>()),
                      bce_with_logits_loss_value_and_grad(x, t, Tensor<float>()), 1e-6);
    Tensor<int64_t> labels = Tensor<int64_t>::empty({32});
    for (int64_t b = 0; b < 32; ++b) labels.data()[b] = b % 7;
    const LossAndGrad<float> ce = cross_entropy_loss_value_and_grad(x, labels);
    require_same_loss(cross_entropy_loss_value_and_grad(gpu(x), labels), ce, 1e-6);
    // labels already on the device: validated from a host copy, used in place
    require_same_loss(cross_entropy_loss_value_and_grad(gpu(x), labels.to(Device::cuda())), ce, 1e-6);
    // and device labels for CPU logits: copied to the host
    const LossAndGrad<float> ce_host = cross_entropy_loss_value_and_grad(x, labels.to(Device::cuda()));
    REQUIRE(ce_host.value == ce.value);
    REQUIRE(ce_host.grads[0].to_vector() == ce.grads[0].to_vector());
    labels.data()[3] = 9;
    REQUIRE_THROWS_WITH(cross_entropy_loss_value_and_grad(gpu(x), labels), Catch::Contains("outside [0, 7)"));
    REQUIRE_THROWS_WITH(cross_entropy_loss_value_and_grad(gpu(x), labels.to(Device::cuda())),
                        Catch::Contains("label 9 of sample 3"));
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
    const LossAndGrad<float> lc = local_contrastive_loss_value_and_grad(f1, f2, cells, lp);
    require_same_loss(local_contrastive_loss_value_and_grad(gpu(f1), gpu(f2), cells, lp), lc, 1e-5);
    require_same_loss(local_contrastive_loss_value_and_grad(gpu(f1), gpu(f2), cells.to(Device::cuda()), lp), lc, 1e-5);
    Tensor<int64_t> bad = cells.clone();
    bad.data()[4] = 110;  // the 10 x 11 grid has cells 0..109
    REQUIRE_THROWS_WITH(local_contrastive_loss_value_and_grad(gpu(f1), gpu(f2), bad.to(Device::cuda()), lp),
                        Catch::Contains("cell index 110"));
}

TEST_CASE("every loss's tape node on CUDA matches the CPU under a scaled incoming gradient", "[cuda][loss]") {
    // compare_forward_backward seeds backward() with a random scalar: the node scales the fused gradient by it.
    const Tensor<float> p = test::randu({4, 1, 16, 16}, 1, 0, 1), t = binary({4, 1, 16, 16}, 2, 0.7f);
    test::compare_forward_backward([&](const VV& v) { return dice_loss(v[0], like(v[0], t), {1.0, 0.2}); }, {p}, 1e-5);
    const Tensor<float> z = test::randu({6, 7}, 3, -3, 3), tl = binary({6, 7}, 4, 0.5f), pw = test::randu({7}, 5, 1, 4);
    // through the sigmoid (expf vs std::exp, 1-2 ulp) into the Dice gradient
    test::compare_forward_backward([&](const VV& v) { return multilabel_dice_loss(v[0], like(v[0], tl)); }, {z}, 1e-5);
    test::compare_forward_backward(
        [&](const VV& v) { return bce_with_logits_loss(v[0], like(v[0], tl), like(v[0], pw)); }, {z}, 1e-5);
    const Tensor<int64_t> labels = Tensor<int64_t>::from_vector({6}, {0, 6, 3, 3, 1, 5});
    test::compare_forward_backward([&](const VV& v) { return cross_entropy_loss(v[0], labels); }, {z}, 1e-5);
    test::compare_forward_backward([&](const VV& v) { return mse_loss(v[0], like(v[0], p)); },
                                   {test::randu({4, 1, 16, 16}, 6)}, 1e-5);
    test::compare_forward_backward([&](const VV& v) { return nt_xent_loss(v[0], 0.2); }, {test::randu({8, 16}, 7)},
                                   1e-5);
    Generator gen(9);
    const Tensor<int64_t> cells = sample_cells(2, 4 * 4, 5, gen);
    test::compare_forward_backward([&](const VV& v) { return local_contrastive_loss(v[0], v[1], cells, {2, 0.1}); },
                                   {test::randu({2, 3, 8, 9}, 8), test::randu({2, 3, 8, 9}, 10)}, 1e-5);
}

TEST_CASE("a loss node scales its CUDA gradient by the incoming gradient", "[cuda][loss]") {
    const Tensor<float> p = test::randu({2, 1, 8, 8}, 1, 0, 1), t = test::randu({2, 1, 8, 8}, 2, 0, 1);
    Var<float> pc(p.clone(), true), pg(gpu(p), true);
    Var<float> lc = scale(dice_loss(pc, t), 3.0f), lg = scale(dice_loss(pg, gpu(t)), 3.0f);
    lc.backward();
    lg.backward();
    ICHSEG_REQUIRE_GPU_CLOSE(pg.grad(), pc.grad(), 1e-5);
}

TEST_CASE("the losses refuse double tensors on CUDA and mixed devices, naming the loss, dtype and device",
          "[cuda][loss]") {
    const Device dev = Device::cuda();
    const Tensor<double> pd = Tensor<double>::zeros({2, 3}, dev), zd = Tensor<double>::zeros({4, 3}, dev);
    const Tensor<double> fd = Tensor<double>::zeros({1, 2, 4, 4}, dev);
    const Tensor<int64_t> labels = Tensor<int64_t>::zeros({2}), cells = Tensor<int64_t>::zeros({1, 2});
    auto refuses = [](const auto& call, const char* op) {
        INFO(op);
        REQUIRE_THROWS_WITH(call(), Catch::Contains(op) && Catch::Contains("F64 tensors on cuda:0") &&
                                        Catch::Contains("CUDA backend") && Catch::Contains("compute in float"));
    };
    refuses([&] { return dice_loss_value_and_grad(pd, pd); }, "dice_loss");
    refuses([&] { return bce_with_logits_loss_value_and_grad(pd, pd); }, "bce_with_logits_loss");
    refuses([&] { return cross_entropy_loss_value_and_grad(pd, labels); }, "cross_entropy_loss");
    refuses([&] { return mse_loss_value_and_grad(pd, pd); }, "mse_loss");
    refuses([&] { return nt_xent_loss_value_and_grad(zd, 0.1); }, "nt_xent_loss");
    refuses([&] { return local_contrastive_loss_value_and_grad(fd, fd, cells, {2, 0.1}); }, "local_contrastive_loss");

    const Tensor<float> x = test::randu({2, 3}, 1), xg = gpu(x);
    auto mixed = [](const auto& call, const char* op) {
        INFO(op);
        REQUIRE_THROWS_WITH(call(), Catch::Contains(op) && Catch::Contains("different devices"));
    };
    mixed([&] { return dice_loss_value_and_grad(xg, x); }, "dice_loss");
    mixed([&] { return bce_with_logits_loss_value_and_grad(xg, xg, test::randu({3}, 2)); }, "bce_with_logits_loss");
    mixed([&] { return mse_loss_value_and_grad(x, xg); }, "mse_loss");
    mixed([&] { return local_contrastive_loss_value_and_grad(gpu(test::randu({1, 2, 4, 4}, 3)),
                                                             test::randu({1, 2, 4, 4}, 4), cells, {2, 0.1}); },
          "local_contrastive_loss");
}
