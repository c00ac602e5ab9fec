/// @file test_unet_step_cuda.cpp
/// @brief One full U-Net training step (forward, Dice loss, backward, Adam with weight decay) on the GPU
/// against the same step on the CPU, from the same initial weights and data; and the Adam update alone.
#include "cuda_support.hpp"
#include "ichseg/ichseg.hpp"

using namespace ichseg;
using test::gpu;

namespace {
struct StepResult {
    double loss;
    std::vector<Tensor<float>> grads, params, buffers;
};

StepResult train_step(const nn::UNetConfig& cfg, Device dev, const Tensor<float>& x, const Tensor<float>& t,
                      cuda::Precision prec) {
    manual_seed(7);
    nn::UNet<float> net(cfg);
    net.to(dev);
    optim::Adam<float> opt(net.parameters(), {1e-3, 0.9, 0.999, 1e-8, 1e-6});
    cuda::PrecisionGuard guard(prec);
    opt.zero_grad();
    Var<float> loss = dice_loss(net(Var<float>(x.to(dev))), t.to(dev), DiceParams{1.0, 0.2});
    loss.backward();
    StepResult r;
    r.loss = loss.value().to_vector()[0];
    for (auto& [name, v] : net.named_parameters()) r.grads.push_back(v.grad().to(Device::cpu()));
    opt.step();
    for (auto& [name, v] : net.named_parameters()) r.params.push_back(v.value().to(Device::cpu()));
    for (auto& b : net.named_buffers()) r.buffers.push_back(b.tensor->to(Device::cpu()));
    return r;
}

void check_step(const nn::UNetConfig& cfg, const Shape& xs) {
    const Tensor<float> x = test::randu(xs, 1, 0, 1);
    Tensor<float> t = test::randu(xs, 2, 0, 1);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = t.data()[i] > 0.7f ? 1.f : 0.f;
    const StepResult c = train_step(cfg, Device::cpu(), x, t, cuda::Precision::FP32);
    const StepResult g = train_step(cfg, Device::cuda(), x, t, cuda::Precision::FP32);
    INFO("loss gpu " << g.loss << " cpu " << c.loss);
    REQUIRE(std::abs(g.loss - c.loss) <= 1e-5 * std::abs(c.loss));
    // Gradients pass through ~20 layers of FP32 convolutions and batch norms summed in different orders.
    for (size_t i = 0; i < c.grads.size(); ++i) {
        INFO("parameter " << i);
        ICHSEG_REQUIRE_GPU_CLOSE(g.grads[i], c.grads[i], 1e-3);
    }
    // After one Adam step p - lr * m / (sqrt(v) + eps) = p - lr * sign(g) (first step): an update differs only
    // where a gradient is so small that its sign is rounding noise, by at most 2 lr.
    int64_t flipped = 0, total = 0;
    double worst = 0;
    for (size_t i = 0; i < c.params.size(); ++i) {
        const auto a = g.params[i].to_vector(), b = c.params[i].to_vector();
        for (size_t k = 0; k < a.size(); ++k) {
            const double d = std::abs(static_cast<double>(a[k]) - b[k]);
            worst = std::max(worst, d);
            flipped += d > 1e-5;
            ++total;
        }
    }
    INFO(flipped << " of " << total << " parameters updated differently; largest difference " << worst);
    REQUIRE(worst <= 2e-3 + 1e-6);
    REQUIRE(flipped <= total / 1000);
    for (size_t i = 0; i < c.buffers.size(); ++i) {
        INFO("buffer " << i);
        ICHSEG_REQUIRE_GPU_CLOSE(g.buffers[i], c.buffers[i], 1e-4);
    }
}
}  // namespace

TEST_CASE("one U-Net training step on CUDA (FP32) matches the CPU step: small U-Net", "[cuda][unet]") {
    nn::UNetConfig cfg;
    cfg.base_width = 8;
    cfg.depth = 3;
    check_step(cfg, {2, 1, 32, 32});
}

TEST_CASE("one U-Net training step on CUDA (FP32) matches the CPU step: the paper's U-Net at 64x64", "[cuda][unet][large]") {
    nn::UNetConfig cfg;  // base 32, depth 5, conv1 halves the width
    check_step(cfg, {2, 1, 64, 64});
}

TEST_CASE("U-Net training steps in TF32 and BF16 on CUDA stay close to the FP32 step", "[cuda][unet][large]") {
    nn::UNetConfig cfg;
    const Shape xs{4, 1, 64, 64};
    const Tensor<float> x = test::randu(xs, 3, 0, 1);
    Tensor<float> t = test::randu(xs, 4, 0, 1);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = t.data()[i] > 0.7f ? 1.f : 0.f;
    const StepResult ref = train_step(cfg, Device::cuda(), x, t, cuda::Precision::FP32);
    for (cuda::Precision p : {cuda::Precision::TF32, cuda::Precision::BF16}) {
        const StepResult r = train_step(cfg, Device::cuda(), x, t, p);
        INFO(cuda::precision_name(p) << " loss " << r.loss << " fp32 loss " << ref.loss);
        // The loss of a mixed-precision step: relative 1e-2 (TF32) / 3e-2 (BF16) of the FP32 loss.
        REQUIRE(std::abs(r.loss - ref.loss) <= (p == cuda::Precision::TF32 ? 1e-2 : 3e-2) * std::abs(ref.loss));
        // Gradients of the last layer (head) and of the first conv: direction agrees (cosine > 0.99 / 0.95).
        for (size_t i : {size_t(0), r.grads.size() - 2}) {
            const auto a = r.grads[i].to_vector(), b = ref.grads[i].to_vector();
            double ab = 0, aa = 0, bb = 0;
            for (size_t k = 0; k < a.size(); ++k) ab += double(a[k]) * b[k], aa += double(a[k]) * a[k], bb += double(b[k]) * b[k];
            const double cosine = ab / std::sqrt(aa * bb + 1e-300);
            INFO("gradient " << i << " cosine " << cosine);
            REQUIRE(cosine >= (p == cuda::Precision::TF32 ? 0.99 : 0.95));
        }
    }
}

TEST_CASE("Adam on CUDA matches the CPU over several steps", "[cuda][adam]") {
    const Tensor<float> p0 = test::randu({1000}, 1);
    Var<float> pc(p0.clone(), true), pg(gpu(p0), true);
    optim::Adam<float> oc({pc}, {1e-2, 0.9, 0.999, 1e-8, 1e-3}), og({pg}, {1e-2, 0.9, 0.999, 1e-8, 1e-3});
    for (int step = 0; step < 5; ++step) {
        const Tensor<float> g = test::randu({1000}, 10 + step);
        pc.mutable_grad() = g.clone();
        pg.mutable_grad() = gpu(g);
        oc.step();
        og.step();
    }
    ICHSEG_REQUIRE_GPU_CLOSE(pg.value(), pc.value(), 1e-6);
    REQUIRE(og.state()[0].m.device().is_cuda());
    ICHSEG_REQUIRE_GPU_CLOSE(og.state()[0].v, oc.state()[0].v, 1e-6);
}

TEST_CASE("autograd accumulates CUDA gradients of a fan-out and of a leaf across two backward calls", "[cuda][autograd]") {
    const Tensor<float> a = test::randu({64}, 1);
    Var<float> xg(gpu(a), true), xc(a.clone(), true);
    for (int rep = 0; rep < 2; ++rep) {
        Var<float> yg = add(mul(xg, xg), xg), yc = add(mul(xc, xc), xc);  // x used three times
        sum(yg).backward();
        sum(yc).backward();
    }
    ICHSEG_REQUIRE_GPU_CLOSE(xg.grad(), xc.grad(), 1e-6);
}
