/// @file test_ops_cuda.cpp
/// @brief Batch norm (train / infer, with and without the fused ReLU), ReLU, sigmoid, dropout, max pooling,
/// concat, global average pooling, softmax, linear and the arithmetic ops on the GPU against the CPU, forward
/// and backward through the autograd tape. These ops compute in FP32 whatever the precision setting.
#include "cuda_support.hpp"
#include "ichseg/ops/arithmetic.hpp"
#include "ichseg/ops/batchnorm2d.hpp"
#include "ichseg/ops/concat.hpp"
#include "ichseg/ops/dropout.hpp"
#include "ichseg/ops/global_avg_pool.hpp"
#include "ichseg/ops/linear.hpp"
#include "ichseg/ops/max_pool2d.hpp"
#include "ichseg/ops/relu.hpp"
#include "ichseg/ops/sigmoid.hpp"
#include "ichseg/ops/softmax.hpp"

using namespace ichseg;
using test::gpu;
using VV = std::vector<Var<float>>;

TEST_CASE("batchnorm2d on CUDA matches the CPU (train / infer, +-ReLU, running statistics)", "[cuda][batchnorm2d]") {
    cuda::set_norm_backend(cuda::NormBackend::Ichseg);
    const Shape shapes[] = {{2, 16, 64, 64}, {1, 3, 7, 9}, {4, 13, 5, 5}, {2, 256, 16, 16}, {32, 5, 1, 1}};
    for (const Shape& s : shapes)
        for (bool training : {true, false})
            for (bool relu : {false, true}) {
                INFO(to_string(s) << " training " << training << " relu " << relu);
                // An offset of 3 checks the shifted-sum variance when |mean| >> std.
                const Tensor<float> x = test::randu(s, 1, 2.0, 4.0);
                const Tensor<float> gamma = test::randu({s[1]}, 2, 0.5, 1.5), beta = test::randu({s[1]}, 3);
                Tensor<float> rm_c = test::randu({s[1]}, 4), rv_c = test::randu({s[1]}, 5, 0.5, 2.0);
                Tensor<float> rm_g = gpu(rm_c), rv_g = gpu(rv_c);
                const BatchNorm2dParams p{1e-5, 0.1, relu};
                auto run = [&](Tensor<float> rm, Tensor<float> rv) {
                    return [=](const VV& v) { return batchnorm2d(v[0], v[1], v[2], rm, rv, training, p); };
                };
                std::vector<Var<float>> vc{Var<float>(x.clone(), true), Var<float>(gamma.clone(), true),
                                           Var<float>(beta.clone(), true)};
                std::vector<Var<float>> vg{Var<float>(gpu(x), true), Var<float>(gpu(gamma), true),
                                           Var<float>(gpu(beta), true)};
                Var<float> yc = run(rm_c, rv_c)(vc), yg = run(rm_g, rv_g)(vg);
                ICHSEG_REQUIRE_GPU_CLOSE(yg.value(), yc.value(), 1e-5);
                ICHSEG_REQUIRE_GPU_CLOSE(rm_g, rm_c, 1e-6);
                ICHSEG_REQUIRE_GPU_CLOSE(rv_g, rv_c, 1e-5);
                const Tensor<float> seed = test::randu(s, 6);
                yc.backward(seed);
                yg.backward(gpu(seed));
                // dx involves the cancellation dy - mean(dy) - xhat mean(dy xhat): FP32 sums over N*H*W in both.
                ICHSEG_REQUIRE_GPU_CLOSE(vg[0].grad(), vc[0].grad(), 1e-4);
                ICHSEG_REQUIRE_GPU_CLOSE(vg[1].grad(), vc[1].grad(), 1e-5);
                ICHSEG_REQUIRE_GPU_CLOSE(vg[2].grad(), vc[2].grad(), 1e-5);
            }
}

TEST_CASE("relu, sigmoid, softmax and arithmetic on CUDA match the CPU", "[cuda][pointwise]") {
    const Tensor<float> a = test::randu({3, 5, 7, 11}, 1, -3, 3), b = test::randu({3, 5, 7, 11}, 2);
    test::compare_forward_backward([](const VV& v) { return relu(v[0]); }, {a}, 0);
    // expf vs std::exp: 1-2 ulp
    test::compare_forward_backward([](const VV& v) { return sigmoid(v[0]); }, {a}, 1e-6);
    test::compare_forward_backward([](const VV& v) { return softmax(v[0]); }, {a}, 1e-6);
    test::compare_forward_backward([](const VV& v) { return softmax(v[0]); }, {test::randu({4, 1000}, 9)}, 1e-6);
    test::compare_forward_backward([](const VV& v) { return add(v[0], v[1]); }, {a, b}, 0);
    test::compare_forward_backward([](const VV& v) { return mul(v[0], v[1]); }, {a, b}, 0);
    test::compare_forward_backward([](const VV& v) { return scale(v[0], 0.37f); }, {a}, 0);
    // sum: double accumulation on both sides, different order
    test::compare_forward_backward([](const VV& v) { return mean(v[0]); }, {a}, 1e-6);
}

TEST_CASE("dropout on CUDA draws the CPU's Philox mask bit for bit", "[cuda][dropout]") {
    const Tensor<float> x = test::randu({2, 8, 33, 17}, 3);
    Generator gc(42), gg(42);
    Var<float> xc(x.clone(), true), xg(gpu(x), true);
    Var<float> yc = dropout(xc, 0.3, true, gc), yg = dropout(xg, 0.3, true, gg);
    REQUIRE(yg.value().to_vector() == yc.value().to_vector());
    const Tensor<float> seed = test::randu(x.shape(), 4);
    yc.backward(seed);
    yg.backward(gpu(seed));
    REQUIRE(xg.grad().to_vector() == xc.grad().to_vector());
    REQUIRE(gg.streams_used() == gc.streams_used());
}

TEST_CASE("max_pool2d, concat and global_avg_pool on CUDA match the CPU", "[cuda][pool][concat]") {
    const Tensor<float> x = test::randu({2, 6, 16, 18}, 5), y = test::randu({2, 3, 16, 18}, 6);
    test::compare_forward_backward([](const VV& v) { return max_pool2d(v[0]); }, {x}, 0);
    test::compare_forward_backward([](const VV& v) { return max_pool2d(v[0], MaxPool2dParams{3, 2}); },
                                   {test::randu({1, 5, 15, 9}, 7)}, 1e-6);  // overlapping windows: atomic sums
    test::compare_forward_backward([](const VV& v) { return concat<float>({v[0], v[1]}, 1); }, {x, y}, 0);
    test::compare_forward_backward([](const VV& v) { return concat<float>({v[0], v[1]}, 0); },
                                   {x, test::randu({3, 6, 16, 18}, 8)}, 0);
    test::compare_forward_backward([](const VV& v) { return global_avg_pool(v[0]); }, {x}, 1e-6);
}

TEST_CASE("linear on CUDA matches the CPU (ichseg GEMM, and cuBLAS when it loads)", "[cuda][linear]") {
    const Tensor<float> x = test::randu({60, 512}, 1), w = test::randu({128, 512}, 2, -0.05, 0.05),
                        b = test::randu({128}, 3);
    const auto f = [](const VV& v) { return linear(v[0], v[1], v[2]); };
    {
        cuda::PrecisionGuard g(cuda::Precision::FP32);
        cuda::set_gemm_backend(cuda::GemmBackend::Ichseg);
        test::compare_forward_backward(f, {x, w, b}, 1e-5);
        test::compare_forward_backward(f, {test::randu({3, 7}, 4), test::randu({5, 7}, 5), test::randu({5}, 6)}, 1e-5);
    }
    {
        cuda::PrecisionGuard g(cuda::Precision::TF32);
        test::compare_forward_backward(f, {x, w, b}, 5e-3);
    }
    if (cuda::cublas_available()) {
        cuda::PrecisionGuard g(cuda::Precision::FP32);
        cuda::set_gemm_backend(cuda::GemmBackend::Cublas);
        test::compare_forward_backward(f, {x, w, b}, 1e-5);
        cuda::set_gemm_backend(cuda::GemmBackend::Ichseg);
    } else {
        WARN("cuBLAS could not be loaded: the cuBLAS half of this test did not run");
    }
}

TEST_CASE("Tensor::to, zeros and clone round-trip through the CUDA pool", "[cuda][tensor]") {
    const Tensor<float> x = test::randu({3, 1000}, 1);
    const Tensor<float> g = gpu(x);
    REQUIRE(g.device() == Device::cuda(0));
    REQUIRE(g.clone().to(Device::cpu()).to_vector() == x.to_vector());
    REQUIRE(Tensor<float>::zeros({17}, Device::cuda()).to_vector() == std::vector<float>(17, 0.f));
    REQUIRE(Tensor<float>::full({5}, 2.5f, Device::cuda()).to_vector() == std::vector<float>(5, 2.5f));
    const int64_t allocs = cuda::pool_stats().allocations;
    { Tensor<float> t = Tensor<float>::empty({1 << 20}, Device::cuda()); }
    REQUIRE(cuda::pool_stats().allocations == allocs + 1);
    REQUIRE(cuda::pool_stats().in_use >= static_cast<int64_t>(g.nbytes()));
}
