/// @file bench_cuda_layers.cpp
/// @brief Per-layer convolution time of the paper's U-Net (batch 32, 256 x 256 input) on the GPU: fprop, dgrad
/// and wgrad of every 3x3 convolution, the 2x2 up-convolutions (conv_transpose2d = dgrad / fprop / wgrad roles)
/// and the 1x1 head, for ichseg's implicit-GEMM kernels (fp32 / tf32 / bf16) and cuDNN (fp32 / tf32; algorithms
/// chosen by cudnnFind, as torch.backends.cudnn.benchmark does). Names: conv/<layer>/<role>/<backend>/<precision>.
/// Counter TFLOPs = 2 N K C R S P Q / time (useful work; dgrad of a stride-2 layer counts the same FLOPs).
/// PyTorch side: reference/gpu_layers.py. Inputs exceed the L2 cache, so repetitions are not L2-warm.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "ichseg/cuda/runtime.hpp"
#include "ichseg/ichseg.hpp"

using namespace ichseg;

namespace {
struct Layer {
    std::string name;
    int64_t N, C, H, K, R, stride, pad;  // x (N, C, H, H), w (K, C, R, R)
};

std::vector<Layer> unet_layers(int64_t batch) {
    std::vector<Layer> v;
    const int64_t base = 32, size = 256;
    int64_t in = 1;
    for (int l = 0; l < 5; ++l) {
        const int64_t w = base << l, hw = size >> l;
        v.push_back({"enc" + std::to_string(l) + ".conv1", batch, in, hw, w / 2, 3, 1, 1});
        v.push_back({"enc" + std::to_string(l) + ".conv2", batch, w / 2, hw, w, 3, 1, 1});
        in = w;
    }
    for (int i = 0; i < 4; ++i) {
        const int64_t cin = base << (4 - i), c = cin / 2, hw = size >> (3 - i);
        // up: conv_transpose2d (cin -> c, 2x2, stride 2) from hw/2 to hw == conv2d with x (N, c, hw) w (cin, c, 2, 2)
        // stride 2: its forward is the dgrad role of that convolution.
        v.push_back({"dec" + std::to_string(i) + ".up(T)", batch, c, hw, cin, 2, 2, 0});
        v.push_back({"dec" + std::to_string(i) + ".conv1", batch, 2 * c, hw, c, 3, 1, 1});
        v.push_back({"dec" + std::to_string(i) + ".conv2", batch, c, hw, c, 3, 1, 1});
    }
    v.push_back({"head", batch, base, size, 1, 1, 1, 0});
    return v;
}

Tensor<float> device_uniform(const Shape& s, uint64_t stream) {
    Tensor<float> t = Tensor<float>::empty(s);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = 2.f * random_uniform(11, stream, i) - 1.f;
    return t.to(Device::cuda());
}

void run_layer(benchmark::State& state, Layer l, int role, cuda::ConvBackend backend, cuda::Precision prec) {
    const Conv2dParams p{l.stride, l.stride, l.pad, l.pad, ConvAlgorithm::Im2colGemm};
    const int64_t P = (l.H + 2 * l.pad - l.R) / l.stride + 1;
    const Tensor<float> x = device_uniform({l.N, l.C, l.H, l.H}, 1), w = device_uniform({l.K, l.C, l.R, l.R}, 2);
    const Tensor<float> dy = device_uniform({l.N, l.K, P, P}, 3);
    cuda::set_conv_backend(backend);
    cuda::PrecisionGuard guard(prec);
    auto once = [&] {
        if (role == 0) benchmark::DoNotOptimize(conv2d_fprop(x, w, Tensor<float>(), p).data());
        else if (role == 1) benchmark::DoNotOptimize(conv2d_dgrad(dy, w, x.shape(), p).data());
        else benchmark::DoNotOptimize(conv2d_wgrad(dy, x, w.shape(), p, false).first.data());
    };
    once();  // warm-up: cuDNN algorithm search, pool growth
    cuda::synchronize();
    cuda::GpuTimer timer;
    for (auto _ : state) {
        timer.start();
        once();
        state.SetIterationTime(timer.stop_ms() / 1e3);
    }
    const double flops = 2.0 * l.N * l.K * l.C * l.R * l.R * P * P;
    state.counters["TFLOPs"] = benchmark::Counter(flops * state.iterations() / 1e12, benchmark::Counter::kIsRate);
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
    const bool have_cudnn = cuda::cudnn_available(&why);
    if (!have_cudnn) std::printf("cuDNN not loadable, cuDNN baselines skipped: %s\n", why.c_str());
    const char* roles[] = {"fprop", "dgrad", "wgrad"};
    for (const Layer& l : unet_layers(32))
        for (int role = 0; role < 3; ++role) {
            for (cuda::Precision prec : {cuda::Precision::FP32, cuda::Precision::TF32, cuda::Precision::BF16}) {
                benchmark::RegisterBenchmark(("conv/" + l.name + "/" + roles[role] + "/ichseg/" +
                                              cuda::precision_name(prec)).c_str(),
                                             run_layer, l, role, cuda::ConvBackend::Ichseg, prec)
                    ->UseManualTime()->Unit(benchmark::kMicrosecond)->MinTime(0.05);
                if (have_cudnn && prec != cuda::Precision::BF16)
                    benchmark::RegisterBenchmark(("conv/" + l.name + "/" + roles[role] + "/cudnn/" +
                                                  cuda::precision_name(prec)).c_str(),
                                                 run_layer, l, role, cuda::ConvBackend::Cudnn, prec)
                        ->UseManualTime()->Unit(benchmark::kMicrosecond)->MinTime(0.05);
            }
        }
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
