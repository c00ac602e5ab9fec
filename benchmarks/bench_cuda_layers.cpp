/// @file bench_cuda_layers.cpp
/// @brief Per-layer convolution time of the paper's U-Net (batch 32, 256 x 256 input) on the GPU: fprop, dgrad
/// and wgrad of the 3x3 convolutions, the 2x2 up-convolutions (conv_transpose2d = dgrad / fprop / wgrad roles)
/// and the 1x1 head, for ichseg's implicit-GEMM kernels and cuDNN (algorithms from cudnnFind, as
/// torch.backends.cudnn.benchmark does). Names: conv/<layer>/<role>/<backend>/<precision> (+ "/manual_time").
///   compact (default; tools/gpu_verify.sh): one layer of each kind per resolution, the 15 marked below, ichseg
///            tf32 and bf16 and cuDNN tf32: 135 benchmarks. The cuDNN backend has no BF16 (it would run TF32):
///            the BF16 baseline is PyTorch's bf16 cuDNN in reference/gpu_layers.py.
///   --full:  all 23 layers, ichseg fp32 / tf32 / bf16 and cuDNN fp32 / tf32: 345 benchmarks.
/// The same lists: reference/gpu_unet_layers.py (tools/gpu_verify.sh dry-run checks that they agree).
/// Inputs are drawn on the GPU for each benchmark (bench_cuda_inputs.cu): milliseconds, not seconds, of setup.
/// Counter TFLOPs = 2 N K C R S P Q / time (useful work; dgrad of a stride-2 layer counts the same FLOPs).
/// Inputs exceed the L2 cache, so repetitions are not L2-warm.
#include <string>
#include <vector>

#include "bench_cuda_common.hpp"
#include "ichseg/ichseg.hpp"

using namespace ichseg;

namespace {
struct Layer {
    std::string name;
    int64_t N, C, H, K, R, stride, pad;  // x (N, C, H, H), w (K, C, R, R)
    bool compact;
};

std::vector<Layer> unet_layers(int64_t batch) {
    std::vector<Layer> v;
    const int64_t base = 32, size = 256;
    int64_t in = 1;
    for (int l = 0; l < 5; ++l) {
        const int64_t w = base << l, hw = size >> l;
        // compact: enc0.conv1 (the single-channel input layer) and every conv2 (C -> 2C at each resolution)
        v.push_back({"enc" + std::to_string(l) + ".conv1", batch, in, hw, w / 2, 3, 1, 1, l == 0});
        v.push_back({"enc" + std::to_string(l) + ".conv2", batch, w / 2, hw, w, 3, 1, 1, true});
        in = w;
    }
    for (int i = 0; i < 4; ++i) {
        const int64_t cin = base << (4 - i), c = cin / 2, hw = size >> (3 - i);
        // up: conv_transpose2d (cin -> c, 2x2, stride 2) from hw/2 to hw == conv2d with x (N, c, hw) w (cin, c, 2, 2)
        // stride 2: its forward is the dgrad role of that convolution. compact: up and conv1 (2c -> c, the
        // decoder's largest) at each resolution.
        v.push_back({"dec" + std::to_string(i) + ".up(T)", batch, c, hw, cin, 2, 2, 0, true});
        v.push_back({"dec" + std::to_string(i) + ".conv1", batch, 2 * c, hw, c, 3, 1, 1, true});
        v.push_back({"dec" + std::to_string(i) + ".conv2", batch, c, hw, c, 3, 1, 1, false});
    }
    v.push_back({"head", batch, base, size, 1, 1, 1, 0, true});
    return v;
}

void run_layer(benchmark::State& state, Layer l, int role, cuda::ConvBackend backend, cuda::Precision prec) {
    bench::guarded(state, [&] {
        const Conv2dParams p{l.stride, l.stride, l.pad, l.pad, ConvAlgorithm::Im2colGemm};
        const int64_t P = (l.H + 2 * l.pad - l.R) / l.stride + 1;
        const Tensor<float> x = bench::device_uniform({l.N, l.C, l.H, l.H}, 11, 1);
        const Tensor<float> w = bench::device_uniform({l.K, l.C, l.R, l.R}, 11, 2);
        const Tensor<float> dy = bench::device_uniform({l.N, l.K, P, P}, 11, 3);
        cuda::set_conv_backend(backend);
        cuda::PrecisionGuard guard(prec);
        auto once = [&] {
            if (role == 0) benchmark::DoNotOptimize(conv2d_fprop(x, w, Tensor<float>(), p).data());
            else if (role == 1) benchmark::DoNotOptimize(conv2d_dgrad(dy, w, x.shape(), p).data());
            else benchmark::DoNotOptimize(conv2d_wgrad(dy, x, w.shape(), p, false).first.data());
        };
        once();  // warm-up: cuDNN algorithm search (cached per shape), pool growth
        cuda::synchronize();
        cuda::GpuTimer timer;
        for (auto _ : state) {
            timer.start();
            once();
            state.SetIterationTime(timer.stop_ms() / 1e3);
        }
        const double flops = 2.0 * l.N * l.K * l.C * l.R * l.R * P * P;
        state.counters["TFLOPs"] = benchmark::Counter(flops * state.iterations() / 1e12, benchmark::Counter::kIsRate);
    });
    cuda::set_conv_backend(cuda::ConvBackend::Ichseg);
}

void register_layers(bool full, bool have_cudnn) {
    const char* roles[] = {"fprop", "dgrad", "wgrad"};
    const std::vector<cuda::Precision> ours = full ? std::vector<cuda::Precision>{cuda::Precision::FP32,
                                                                                   cuda::Precision::TF32,
                                                                                   cuda::Precision::BF16}
                                                   : std::vector<cuda::Precision>{cuda::Precision::TF32,
                                                                                   cuda::Precision::BF16};
    const std::vector<cuda::Precision> theirs =
        full ? std::vector<cuda::Precision>{cuda::Precision::FP32, cuda::Precision::TF32}
             : std::vector<cuda::Precision>{cuda::Precision::TF32};
    auto add = [](const std::string& name, const Layer& l, int role, cuda::ConvBackend b, cuda::Precision p) {
        benchmark::RegisterBenchmark(name.c_str(), run_layer, l, role, b, p)
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond);
    };
    for (const Layer& l : unet_layers(32)) {
        if (!full && !l.compact) continue;
        for (int role = 0; role < 3; ++role) {
            const std::string stem = "conv/" + l.name + "/" + roles[role] + "/";
            for (cuda::Precision p : ours) add(stem + "ichseg/" + cuda::precision_name(p), l, role, cuda::ConvBackend::Ichseg, p);
            if (have_cudnn)
                for (cuda::Precision p : theirs)
                    add(stem + "cudnn/" + cuda::precision_name(p), l, role, cuda::ConvBackend::Cudnn, p);
        }
    }
}
}  // namespace

int main(int argc, char** argv) { return bench::run_benchmarks(argc, argv, "0.05", register_layers); }
