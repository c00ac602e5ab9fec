/// @file bench_cuda_train_step.cpp
/// @brief One training step of the paper's U-Net on the GPU: batch 32, 1 x 256 x 256, forward, mixed Dice loss,
/// backward, Adam (lr 1e-3, weight decay 1e-6); GPU time per step from CUDA events (the step ends with the loss
/// value copied to the host, as a training loop does). Variants: precision fp32 / tf32 / bf16 with ichseg's
/// kernels, and tf32 with cuDNN convolutions + ichseg's other kernels (the "same library, cuDNN convs" baseline).
/// Counters: pool_peak_MB (CUDA memory held by tensors and workspaces at the peak). PyTorch side:
/// reference/gpu_train_step.py (eager cuDNN fp32 / tf32, torch.autocast bf16 with channels_last).
#include <benchmark/benchmark.h>

#include <cstdio>

#include "ichseg/cuda/runtime.hpp"
#include "ichseg/ichseg.hpp"

using namespace ichseg;

namespace {
void train_step(benchmark::State& state, cuda::Precision prec, cuda::ConvBackend conv, int64_t batch) {
    cuda::set_conv_backend(conv);
    manual_seed(0);
    nn::UNet<float> net(nn::UNetConfig{});
    net.to(Device::cuda());
    optim::Adam<float> opt(net.parameters(), {1e-3, 0.9, 0.999, 1e-8, 1e-6});
    Tensor<float> x = Tensor<float>::empty({batch, 1, 256, 256}), t = Tensor<float>::empty({batch, 1, 256, 256});
    for (int64_t i = 0; i < x.numel(); ++i) {
        x.data()[i] = random_uniform(1, 1, i);
        t.data()[i] = random_uniform(1, 2, i) > 0.7f ? 1.f : 0.f;
    }
    const Tensor<float> xg = x.to(Device::cuda()), tg = t.to(Device::cuda());
    cuda::PrecisionGuard guard(prec);
    double loss = 0;
    auto step = [&] {
        opt.zero_grad();
        Var<float> l = dice_loss(net(Var<float>(xg)), tg, DiceParams{1.0, 0.2});
        l.backward();
        opt.step();
        loss = l.value().to_vector()[0];
    };
    for (int i = 0; i < 3; ++i) step();  // warm-up: pool growth, cuDNN algorithm search
    cuda::synchronize();
    cuda::reset_pool_peak();
    cuda::GpuTimer timer;
    for (auto _ : state) {
        timer.start();
        step();
        state.SetIterationTime(timer.stop_ms() / 1e3);
    }
    state.counters["loss"] = loss;
    state.counters["pool_peak_MB"] = cuda::pool_stats().peak / double(1 << 20);
    cuda::set_conv_backend(cuda::ConvBackend::Ichseg);
}
}  // namespace

int main(int argc, char** argv) {
    std::string why;
    if (cuda::device_count(&why) == 0) {
        std::printf("SKIPPED: no CUDA device (%s)\n", why.c_str());
        return 77;
    }
    std::printf("device: %s\n", cuda::device_description(0).c_str());
    for (cuda::Precision p : {cuda::Precision::FP32, cuda::Precision::TF32, cuda::Precision::BF16})
        benchmark::RegisterBenchmark((std::string("unet_train_step/b32_256/ichseg/") + cuda::precision_name(p)).c_str(),
                                     train_step, p, cuda::ConvBackend::Ichseg, int64_t(32))
            ->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);
    if (cuda::cudnn_available(&why))
        benchmark::RegisterBenchmark("unet_train_step/b32_256/cudnn-conv/tf32", train_step, cuda::Precision::TF32,
                                     cuda::ConvBackend::Cudnn, int64_t(32))
            ->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
