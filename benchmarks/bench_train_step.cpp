/// @file bench_train_step.cpp
/// @brief One full U-Net training step (forward, Dice loss, backward, Adam with weight decay) on the CPU.
///   unet_train_step/paper: the paper's U-Net (base 32, mid_channels_factor 1), batch 2, 256x256
///   unet_train_step/small: base width 8, batch 8, 64x64
///   unet_train_step_bf16/{paper,small}: the same steps under PrecisionGuard(Precision::BF16) (BF16 products, FP32
///   accumulation, master weights, batch-norm statistics, loss and optimiser state; core/precision.hpp). Counter
///   bf16_kernel: 2 = AMX tiles, 1 = AVX512_BF16, 0 = none (the step then runs in FP32).
/// benchmarks/reference/train_step.py runs the same workloads in PyTorch; tools/bench.sh runs both side by
/// side. Counters: peak_rss_delta_MB (peak resident memory minus the resident memory at process start;
/// meaningful when one workload runs per process) and tensor_peak_MB (ichseg tensor buffers).
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <ichseg/ichseg.hpp>

using namespace ichseg;

namespace {
double rss_now_mb() {
    std::ifstream f("/proc/self/statm");
    long pages = 0, resident = 0;
    f >> pages >> resident;
    return resident * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}
/// Resident memory when the process started, before any benchmark ran (the baseline of peak_rss_delta_MB).
const double g_rss_at_start_mb = rss_now_mb();
double rss_peak_mb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024.0;
}

void train_step(benchmark::State& state, int64_t base, int64_t batch, int64_t size, int64_t factor, Precision prec) {
    const PrecisionGuard precision_guard(prec);
    reset_peak_memory();
    manual_seed(0);
    nn::UNetConfig cfg;
    cfg.base_width = base;
    cfg.mid_channels_factor = factor;
    nn::UNet<float> net(cfg);
    optim::Adam<float> opt(net.parameters(), {1e-3, 0.9, 0.999, 1e-8, 1e-6});
    Tensor<float> x = Tensor<float>::empty({batch, 1, size, size}), t = Tensor<float>::empty({batch, 1, size, size});
    for (int64_t i = 0; i < x.numel(); ++i) {
        x.data()[i] = random_uniform(1, 1, i);
        t.data()[i] = random_uniform(1, 2, i) > 0.7f ? 1.f : 0.f;
    }
    for (auto _ : state) {
        opt.zero_grad();
        Var<float> loss = dice_loss(net(Var<float>(x)), t);
        loss.backward();
        opt.step();
        benchmark::DoNotOptimize(loss.value().data());
    }
    state.counters["threads"] = num_threads();
    state.counters["bf16_kernel"] = prec == Precision::BF16 ? static_cast<double>(cpu::bf16_kernel()) : 0.0;
    state.counters["peak_rss_delta_MB"] = rss_peak_mb() - g_rss_at_start_mb;
    state.counters["tensor_peak_MB"] = cpu_memory_stats().peak.load() / double(1 << 20);
}
}  // namespace

BENCHMARK_CAPTURE(train_step, paper, 32, 2, 256, 1, Precision::FP32)->Name("unet_train_step/paper")
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(train_step, small, 8, 8, 64, 1, Precision::FP32)->Name("unet_train_step/small")
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(train_step, paper_bf16, 32, 2, 256, 1, Precision::BF16)->Name("unet_train_step_bf16/paper")
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(train_step, small_bf16, 8, 8, 64, 1, Precision::BF16)->Name("unet_train_step_bf16/small")
    ->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
