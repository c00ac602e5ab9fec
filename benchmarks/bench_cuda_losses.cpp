/// @file bench_cuda_losses.cpp
/// @brief The fused losses on the GPU, value + gradient: NT-Xent at batch 60 (z = 2 x 60 views x 128) and the
/// mixed Dice loss at batch 32 x 256 x 256. Target (issue 4): each < 1% of a training step. Time includes the
/// copy of the scalar loss to the host. PyTorch side: reference/gpu_losses.py.
#include <benchmark/benchmark.h>

#include <cstdio>

#include "ichseg/cuda/runtime.hpp"
#include "ichseg/ichseg.hpp"

using namespace ichseg;

namespace {
Tensor<float> device_uniform(const Shape& s, uint64_t stream, float lo, float hi) {
    Tensor<float> t = Tensor<float>::empty(s);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = lo + (hi - lo) * random_uniform(3, stream, i);
    return t.to(Device::cuda());
}
template <class F>
void timed(benchmark::State& state, F f) {
    f();
    cuda::synchronize();
    cuda::GpuTimer timer;
    for (auto _ : state) {
        timer.start();
        f();
        state.SetIterationTime(timer.stop_ms() / 1e3);
    }
}
void nt_xent(benchmark::State& state) {
    const Tensor<float> z = device_uniform({120, 128}, 1, -1, 1);
    timed(state, [&] { benchmark::DoNotOptimize(nt_xent_loss_value_and_grad(z, 0.1).value); });
}
void dice(benchmark::State& state) {
    const Tensor<float> p = device_uniform({32, 1, 256, 256}, 2, 0, 1);
    Tensor<float> t = Tensor<float>::empty({32, 1, 256, 256});
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = random_uniform(3, 4, i) > 0.9f ? 1.f : 0.f;
    const Tensor<float> tg = t.to(Device::cuda());
    timed(state, [&] { benchmark::DoNotOptimize(dice_loss_value_and_grad(p, tg, DiceParams{1.0, 0.2}).value); });
}
}  // namespace

int main(int argc, char** argv) {
    std::string why;
    if (cuda::device_count(&why) == 0) {
        std::printf("SKIPPED: no CUDA device (%s)\n", why.c_str());
        return 77;
    }
    std::printf("device: %s\n", cuda::device_description(0).c_str());
    benchmark::RegisterBenchmark("loss/nt_xent/60x2x128", nt_xent)->UseManualTime()->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark("loss/dice/32x256x256", dice)->UseManualTime()->Unit(benchmark::kMicrosecond);
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
