/// @file bench_conv_layers.cpp
/// @brief The 3x3 convolutions of a U-Net, one layer at a time: fprop, dgrad and wgrad on the CPU with the
/// algorithm training uses (ConvAlgorithm::Auto: Winograd where it pays, im2col + GEMM otherwise).
///   conv3x3/paper/<pass>/C<in>_K<out>_H<size>: the 18 layers of unet_train_step/paper (base 32, batch 2, 256x256)
///   conv3x3/small/<pass>/...:                  the 18 layers of unet_train_step/small (base 8, batch 8, 64x64)
/// Counter GFLOPs_direct: 2 N C K 9 H W per call over the time, i.e. the rate a direct convolution would need
/// (Winograd does fewer multiplications, so it can exceed the machine's FMA peak). Shows which layers limit the
/// training step (docs/performance.md).
#include <benchmark/benchmark.h>

#include <ichseg/ichseg.hpp>
#include <string>
#include <tuple>
#include <vector>

using namespace ichseg;

namespace {

struct Layer {
    int64_t C, K, H;
};

/// Encoder blocks (in -> w, w -> w at each depth), then decoder blocks (2c -> c, c -> c), as nn::UNet with
/// mid_channels_factor 1 and depth 5.
std::vector<Layer> unet_layers(int64_t base, int64_t size) {
    std::vector<Layer> layers;
    int64_t in = 1;
    for (int i = 0; i < 5; ++i) {
        const int64_t w = base << i, h = size >> i;
        layers.push_back({in, w, h});
        layers.push_back({w, w, h});
        in = w;
    }
    for (int j = 3; j >= 0; --j) {
        const int64_t c = base << j, h = size >> j;
        layers.push_back({2 * c, c, h});
        layers.push_back({c, c, h});
    }
    return layers;
}

void run(benchmark::State& state, Layer l, int64_t N, int pass) {
    const Conv2dParams p = Conv2dParams::same(3);
    Tensor<float> x = Tensor<float>::empty({N, l.C, l.H, l.H}), w = Tensor<float>::empty({l.K, l.C, 3, 3});
    Tensor<float> b = Tensor<float>::empty({l.K}), dy = Tensor<float>::empty({N, l.K, l.H, l.H});
    for (Tensor<float>* t : {&x, &w, &b, &dy})
        for (int64_t i = 0; i < t->numel(); ++i) t->data()[i] = random_uniform(3, 4, i) - 0.5f;
    for (auto _ : state) {
        if (pass == 0) benchmark::DoNotOptimize(conv2d_fprop(x, w, b, p).data());
        if (pass == 1) benchmark::DoNotOptimize(conv2d_dgrad(dy, w, x.shape(), p).data());
        if (pass == 2) benchmark::DoNotOptimize(conv2d_wgrad(dy, x, w.shape(), p, true).first.data());
    }
    const double flops = 2.0 * N * l.C * l.K * 9 * l.H * l.H;
    state.counters["GFLOPs_direct"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

const int registered = [] {
    const char* passes[] = {"fprop", "dgrad", "wgrad"};
    for (auto [name, base, batch, size] : {std::tuple{"paper", 32, 2, 256}, std::tuple{"small", 8, 8, 64}}) {
        const std::vector<Layer> layers = unet_layers(base, size);
        for (size_t index = 0; index < layers.size(); ++index) {
            const Layer l = layers[index];
            for (int pass = 0; pass < 3; ++pass) {
                if (pass == 1 && l.C == 1) continue;  // the input layer needs no input gradient
                const std::string id = std::string("conv3x3/") + name + "/" + passes[pass] + "/" +
                                       (index < 10 ? "0" : "") + std::to_string(index) + "_C" + std::to_string(l.C) +
                                       "_K" + std::to_string(l.K) + "_H" + std::to_string(l.H);
                benchmark::RegisterBenchmark(id.c_str(), run, l, int64_t(batch), pass)
                    ->Unit(benchmark::kMillisecond)
                    ->UseRealTime();
            }
        }
    }
    return 0;
}();

}  // namespace

BENCHMARK_MAIN();
