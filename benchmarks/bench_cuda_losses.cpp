/// @file bench_cuda_losses.cpp
/// @brief The fused losses on the GPU, value + gradient: NT-Xent at batch 60 (z = 2 x 60 views x 128) and the
/// mixed Dice loss at batch 32 x 256 x 256. Target (issue 4): each < 1% of a training step. Time includes the
/// copy of the scalar loss to the host. Inputs drawn on the GPU. PyTorch side: reference/gpu_losses.py.
/// Names: loss/nt_xent/60x2x128, loss/dice/32x256x256 (+ "/manual_time"); compact and --full are the same.
#include "bench_cuda_common.hpp"
#include "ichseg/ichseg.hpp"

using namespace ichseg;

namespace {
template <class F>
void timed(benchmark::State& state, F f) {
    bench::guarded(state, [&] {
        f();
        cuda::synchronize();
        cuda::GpuTimer timer;
        for (auto _ : state) {
            timer.start();
            f();
            state.SetIterationTime(timer.stop_ms() / 1e3);
        }
    });
}
void nt_xent(benchmark::State& state) {
    const Tensor<float> z = bench::device_uniform({120, 128}, 3, 1, -1.f, 1.f);
    timed(state, [&] { benchmark::DoNotOptimize(nt_xent_loss_value_and_grad(z, 0.1).value); });
}
void dice(benchmark::State& state) {
    const Tensor<float> p = bench::device_uniform({32, 1, 256, 256}, 3, 2, 0.f, 1.f);
    const Tensor<float> t = bench::device_mask({32, 1, 256, 256}, 3, 4, 0.9f);
    timed(state, [&] { benchmark::DoNotOptimize(dice_loss_value_and_grad(p, t, DiceParams{1.0, 0.2}).value); });
}
void register_losses(bool, bool) {
    benchmark::RegisterBenchmark("loss/nt_xent/60x2x128", nt_xent)->UseManualTime()->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark("loss/dice/32x256x256", dice)->UseManualTime()->Unit(benchmark::kMicrosecond);
}
}  // namespace

int main(int argc, char** argv) { return bench::run_benchmarks(argc, argv, "0.5", register_losses); }
