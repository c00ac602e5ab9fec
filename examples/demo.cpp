/// @file demo.cpp
/// @brief First look at ichseg: train a small U-Net on one synthetic batch (bright discs on a noisy
/// background) and print the loss and Dice of every step. Usage: ichseg_demo [steps] [threads]
#include <ichseg/ichseg.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>

using namespace ichseg;

int main(int argc, char** argv) {
    const int steps = argc > 1 ? std::atoi(argv[1]) : 60;
    if (argc > 2) set_num_threads(std::atoi(argv[2]));
    std::printf("%s, %d threads\n", build_info().c_str(), num_threads());
    manual_seed(1);
    nn::UNetConfig cfg;
    cfg.base_width = 8;
    cfg.depth = 4;
    nn::UNet<float> net(cfg);
    optim::Adam<float> opt(net.parameters(), {1e-2, 0.9, 0.999, 1e-8, 1e-6});

    // A batch of 8 images 64x64: a disc of random position and radius; the mask is the disc.
    const int64_t B = 8, S = 64;
    Tensor<float> x = Tensor<float>::empty({B, 1, S, S}), t = Tensor<float>::empty({B, 1, S, S});
    Generator gen(7);
    for (int64_t b = 0; b < B; ++b) {
        const float cx = gen.uniform(16, 48), cy = gen.uniform(16, 48), r = gen.uniform(5, 12);
        const uint64_t noise = gen.next_stream();
        for (int64_t i = 0; i < S; ++i)
            for (int64_t j = 0; j < S; ++j) {
                const bool in = (i - cy) * (i - cy) + (j - cx) * (j - cx) < r * r;
                t(b, 0, i, j) = in ? 1.f : 0.f;
                x(b, 0, i, j) = (in ? 0.7f : 0.3f) + 0.1f * static_cast<float>(random_normal(7, noise, i * S + j));
            }
    }
    std::printf("training a U-Net (%lld parameters) on %lld synthetic 64x64 images\n",
                static_cast<long long>(net.num_parameters()), static_cast<long long>(B));
    for (int s = 1; s <= steps; ++s) {
        const auto t0 = std::chrono::steady_clock::now();
        opt.zero_grad();
        Var<float> p = net(Var<float>(x));
        Var<float> loss = dice_loss(p, t);
        loss.backward();
        opt.step();
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        // Hard Dice of the thresholded prediction over the batch.
        double tp = 0, fp = 0, fn = 0;
        const float* pp = p.value().data();
        for (int64_t i = 0; i < t.numel(); ++i) {
            const bool pr = pp[i] > 0.5f, gt = t.data()[i] > 0.5f;
            tp += pr && gt;
            fp += pr && !gt;
            fn += !pr && gt;
        }
        std::printf("step %3d  loss %.4f  dice %.4f  %.1f ms\n", s, loss.value().to_vector()[0],
                    (2 * tp + 1) / (2 * tp + fp + fn + 1), ms);
    }
    return 0;
}
