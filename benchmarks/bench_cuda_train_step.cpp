/// @file bench_cuda_train_step.cpp
/// @brief One training step of the paper's U-Net on the GPU: batch 32, 1 x 256 x 256, forward, mixed Dice loss,
/// backward, Adam (lr 1e-3, weight decay 1e-6); GPU time per step from CUDA events (the step ends with the loss
/// value copied to the host, as a training loop does). Names: unet_train_step/b32_256/<convs>/<precision>
/// (+ "/manual_time"):
///   ichseg/fp32, ichseg/tf32, ichseg/bf16   ichseg's kernels throughout
///   cudnn-conv/fp32, cudnn-conv/tf32        cuDNN convolutions + ichseg's other kernels (the "same library,
///                                           cuDNN convs" baseline; cuDNN has no BF16 here)
/// The network, optimizer and inputs (drawn on the GPU) are built once per variant and kept while Google
/// Benchmark calls the function again (iteration-count ramp-up, repetitions), so those calls cost only steps;
/// the first call runs 3 warm-up steps (pool growth, cuDNN algorithm search). Counters: loss, pool_peak_MB (CUDA
/// memory held by tensors and workspaces at the peak since the warm-up). PyTorch side: reference/gpu_train_step.py
/// (eager cuDNN fp32 / tf32, torch.autocast bf16 with channels_last). --full adds nothing yet: the compact set is
/// the whole set.
#include <memory>
#include <string>

#include "bench_cuda_common.hpp"
#include "ichseg/ichseg.hpp"

using namespace ichseg;

namespace {
struct Variant {
    cuda::Precision prec;
    cuda::ConvBackend conv;
    int64_t batch;
};

/// The model of the variant being measured (one at a time: the previous one is freed first).
struct StepState {
    std::string key;
    std::unique_ptr<nn::UNet<float>> net;
    std::unique_ptr<optim::Adam<float>> opt;
    Tensor<float> x, t;
};
StepState& current() {
    static StepState s;
    return s;
}

/// The single module-to-device move of this file.
void move_to_gpu(nn::UNet<float>& net) { net.to(Device::cuda()); }

void train_step(benchmark::State& state, Variant v) {
    bench::guarded(state, [&] {
        cuda::set_conv_backend(v.conv);
        cuda::PrecisionGuard guard(v.prec);
        StepState& s = current();
        double loss = 0;
        auto step = [&] {
            s.opt->zero_grad();
            Var<float> l = dice_loss((*s.net)(Var<float>(s.x)), s.t, DiceParams{1.0, 0.2});
            l.backward();
            s.opt->step();
            loss = l.value().to_vector()[0];
        };
        const std::string key = std::to_string(static_cast<int>(v.prec)) + "/" + std::to_string(static_cast<int>(v.conv)) +
                                "/" + std::to_string(v.batch);
        if (s.key != key) {
            s = StepState{};  // free the previous variant's model before building this one
            manual_seed(0);
            s.net = std::make_unique<nn::UNet<float>>(nn::UNetConfig{});
            move_to_gpu(*s.net);
            s.opt = std::make_unique<optim::Adam<float>>(s.net->parameters(), optim::AdamParams{1e-3, 0.9, 0.999, 1e-8, 1e-6});
            s.x = bench::device_uniform({v.batch, 1, 256, 256}, 1, 1, 0.f, 1.f);
            s.t = bench::device_mask({v.batch, 1, 256, 256}, 1, 2, 0.7f);
            for (int i = 0; i < 3; ++i) step();  // warm-up
            cuda::synchronize();
            cuda::reset_pool_peak();
            s.key = key;
        }
        cuda::GpuTimer timer;
        for (auto _ : state) {
            timer.start();
            step();
            state.SetIterationTime(timer.stop_ms() / 1e3);
        }
        state.counters["loss"] = loss;
        state.counters["pool_peak_MB"] = cuda::pool_stats().peak / double(1 << 20);
    });
    cuda::set_conv_backend(cuda::ConvBackend::Ichseg);
}

void register_steps(bool /*full*/, bool have_cudnn) {
    auto add = [](const std::string& convs, cuda::Precision p, cuda::ConvBackend b) {
        benchmark::RegisterBenchmark(("unet_train_step/b32_256/" + convs + "/" + cuda::precision_name(p)).c_str(),
                                     train_step, Variant{p, b, 32})
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
    };
    for (cuda::Precision p : {cuda::Precision::FP32, cuda::Precision::TF32, cuda::Precision::BF16})
        add("ichseg", p, cuda::ConvBackend::Ichseg);
    if (have_cudnn)
        for (cuda::Precision p : {cuda::Precision::FP32, cuda::Precision::TF32}) add("cudnn-conv", p, cuda::ConvBackend::Cudnn);
}
}  // namespace

int main(int argc, char** argv) { return bench::run_benchmarks(argc, argv, "2", register_steps); }
