/// @file test_entry_points_cuda.cpp
/// @brief Every tensor-level entry point of the ops (other than conv2d / conv_transpose2d, whose roles are
/// compared in test_conv2d_cuda.cpp) called on CUDA tensors against the same call on CPU tensors, one by one:
/// the dispatch in ops/X.hpp picks cuda:: for the first and cpu:: for the second, so each comparison checks one
/// CUDA launcher against its CPU kernel without the tape in between. Also: each entry point asks the CUDA
/// backend's supports() first, so double tensors on CUDA are refused naming the op, the dtype and the device.
/// Tolerances: cuda_support.hpp (FP32 everywhere here: PrecisionGuard FP32 for the GEMMs of linear).
#include "cuda_support.hpp"
#include "ichseg/ops/arithmetic.hpp"
#include "ichseg/ops/batchnorm2d.hpp"
#include "ichseg/ops/concat.hpp"
#include "ichseg/ops/conv2d.hpp"
#include "ichseg/ops/dropout.hpp"
#include "ichseg/ops/global_avg_pool.hpp"
#include "ichseg/ops/linear.hpp"
#include "ichseg/ops/max_pool2d.hpp"
#include "ichseg/ops/relu.hpp"
#include "ichseg/ops/sigmoid.hpp"
#include "ichseg/ops/softmax.hpp"
#include "ichseg/optim/adam.hpp"

using namespace ichseg;
using test::gpu;

TEST_CASE("linear_fwd, linear_dgrad and linear_wgrad on CUDA match the CPU", "[cuda][entry][linear]") {
    cuda::PrecisionGuard fp32(cuda::Precision::FP32);
    cuda::set_gemm_backend(cuda::GemmBackend::Ichseg);
    struct Size {
        int64_t N, in, out;
    };
    for (const Size& z : {Size{60, 512, 128}, Size{3, 7, 5}, Size{1, 33, 1}}) {
        const int64_t N = z.N, in = z.in, out = z.out;
        INFO(N << " x " << in << " -> " << out);
        const Tensor<float> x = test::randu({N, in}, 1), w = test::randu({out, in}, 2, -0.1, 0.1),
                            b = test::randu({out}, 3), dy = test::randu({N, out}, 4);
        ICHSEG_REQUIRE_GPU_CLOSE(linear_fwd(gpu(x), gpu(w), gpu(b)), linear_fwd(x, w, b), 1e-5);
        ICHSEG_REQUIRE_GPU_CLOSE(linear_fwd(gpu(x), gpu(w), Tensor<float>()), linear_fwd(x, w, Tensor<float>()), 1e-5);
        ICHSEG_REQUIRE_GPU_CLOSE(linear_dgrad(gpu(dy), gpu(w)), linear_dgrad(dy, w), 1e-5);
        const auto [dw, db] = linear_wgrad(dy, x, true);
        const auto [dwg, dbg] = linear_wgrad(gpu(dy), gpu(x), true);
        ICHSEG_REQUIRE_GPU_CLOSE(dwg, dw, 1e-5);
        ICHSEG_REQUIRE_GPU_CLOSE(dbg, db, 1e-5);
        REQUIRE(!linear_wgrad(gpu(dy), gpu(x), false).second.defined());
    }
}

TEST_CASE("batchnorm2d_fwd_train, _fwd_infer and _bwd on CUDA match the CPU", "[cuda][entry][batchnorm2d]") {
    cuda::set_norm_backend(cuda::NormBackend::Ichseg);
    for (const Shape& s : {Shape{2, 16, 32, 32}, Shape{1, 3, 7, 9}, Shape{32, 5, 1, 1}})
        for (bool relu : {false, true}) {
            INFO(to_string(s) << " relu " << relu);
            const BatchNorm2dParams p{1e-5, 0.1, relu};
            const Tensor<float> x = test::randu(s, 1, 2.0, 4.0), gamma = test::randu({s[1]}, 2, 0.5, 1.5),
                                beta = test::randu({s[1]}, 3), dy = test::randu(s, 6);
            Tensor<float> rm = test::randu({s[1]}, 4), rv = test::randu({s[1]}, 5, 0.5, 2.0);
            Tensor<float> rm_g = gpu(rm), rv_g = gpu(rv);
            const BatchNorm2dForward<float> t = batchnorm2d_fwd_train(x, gamma, beta, rm, rv, p);
            const BatchNorm2dForward<float> tg = batchnorm2d_fwd_train(gpu(x), gpu(gamma), gpu(beta), rm_g, rv_g, p);
            ICHSEG_REQUIRE_GPU_CLOSE(tg.y, t.y, 1e-5);
            ICHSEG_REQUIRE_GPU_CLOSE(tg.save_mean, t.save_mean, 1e-6);
            ICHSEG_REQUIRE_GPU_CLOSE(tg.save_invstd, t.save_invstd, 1e-5);
            ICHSEG_REQUIRE_GPU_CLOSE(rm_g, rm, 1e-6);  // updated in place on both devices
            ICHSEG_REQUIRE_GPU_CLOSE(rv_g, rv, 1e-5);
            const BatchNorm2dForward<float> i = batchnorm2d_fwd_infer(x, gamma, beta, rm, rv, p);
            const BatchNorm2dForward<float> ig = batchnorm2d_fwd_infer(gpu(x), gpu(gamma), gpu(beta), rm_g, rv_g, p);
            ICHSEG_REQUIRE_GPU_CLOSE(ig.y, i.y, 1e-5);
            ICHSEG_REQUIRE_GPU_CLOSE(ig.save_mean, i.save_mean, 0);
            ICHSEG_REQUIRE_GPU_CLOSE(ig.save_invstd, i.save_invstd, 1e-6);
            for (bool training : {true, false}) {
                INFO("backward, training " << training);
                const BatchNorm2dForward<float>& f = training ? t : i;
                const BatchNorm2dGrads<float> d =
                    batchnorm2d_bwd(dy, x, f.y, gamma, f.save_mean, f.save_invstd, training, p);
                const BatchNorm2dGrads<float> dg = batchnorm2d_bwd(gpu(dy), gpu(x), gpu(f.y), gpu(gamma),
                                                                   gpu(f.save_mean), gpu(f.save_invstd), training, p);
                // dx involves the cancellation dy - mean(dy) - xhat mean(dy xhat): FP32 sums over N*H*W in both.
                ICHSEG_REQUIRE_GPU_CLOSE(dg.dx, d.dx, 1e-4);
                ICHSEG_REQUIRE_GPU_CLOSE(dg.dgamma, d.dgamma, 1e-5);
                ICHSEG_REQUIRE_GPU_CLOSE(dg.dbeta, d.dbeta, 1e-5);
            }
        }
}

TEST_CASE("max_pool2d_fwd and max_pool2d_bwd on CUDA match the CPU", "[cuda][entry][pool]") {
    for (const MaxPool2dParams p : {MaxPool2dParams{2, 2}, MaxPool2dParams{3, 2}, MaxPool2dParams{3, 1}}) {
        INFO("kernel " << p.kernel << " stride " << p.stride);
        const Tensor<float> x = test::randu({2, 5, 15, 18}, 1);
        const Tensor<float> y = max_pool2d_fwd(x, p), dy = test::randu(y.shape(), 2);
        ICHSEG_REQUIRE_GPU_CLOSE(max_pool2d_fwd(gpu(x), p), y, 0);
        // Overlapping windows (stride < kernel) add their dy with atomics on the GPU: order-dependent rounding.
        ICHSEG_REQUIRE_GPU_CLOSE(max_pool2d_bwd(gpu(dy), gpu(x), p), max_pool2d_bwd(dy, x, p), 1e-6);
    }
}

TEST_CASE("global_avg_pool_fwd and global_avg_pool_bwd on CUDA match the CPU", "[cuda][entry][pool]") {
    const Tensor<float> x = test::randu({3, 7, 13, 11}, 1), dy = test::randu({3, 7}, 2);
    // float lane sums on the GPU, double on the CPU: a few ulp of the mean
    ICHSEG_REQUIRE_GPU_CLOSE(global_avg_pool_fwd(gpu(x)), global_avg_pool_fwd(x), 1e-6);
    ICHSEG_REQUIRE_GPU_CLOSE(global_avg_pool_bwd(gpu(dy), x.shape()), global_avg_pool_bwd(dy, x.shape()), 0);
}

TEST_CASE("relu, sigmoid and softmax entry points on CUDA match the CPU", "[cuda][entry][pointwise]") {
    const Tensor<float> x = test::randu({3, 5, 7, 11}, 1, -3, 3), dy = test::randu({3, 5, 7, 11}, 2);
    const Tensor<float> r = relu_fwd(x);
    ICHSEG_REQUIRE_GPU_CLOSE(relu_fwd(gpu(x)), r, 0);
    ICHSEG_REQUIRE_GPU_CLOSE(relu_bwd(gpu(dy), gpu(r)), relu_bwd(dy, r), 0);
    const Tensor<float> s = sigmoid_fwd(x);
    ICHSEG_REQUIRE_GPU_CLOSE(sigmoid_fwd(gpu(x)), s, 1e-6);  // expf vs std::exp: 1-2 ulp
    ICHSEG_REQUIRE_GPU_CLOSE(sigmoid_bwd(gpu(dy), gpu(s)), sigmoid_bwd(dy, s), 0);
    for (const Shape& sh : {Shape{3, 5, 7, 11}, Shape{4, 1000}, Shape{6, 1}}) {
        INFO("softmax over " << to_string(sh));
        const Tensor<float> a = test::randu(sh, 3, -4, 4), g = test::randu(sh, 4);
        const Tensor<float> y = softmax_fwd(a);
        ICHSEG_REQUIRE_GPU_CLOSE(softmax_fwd(gpu(a)), y, 1e-6);
        ICHSEG_REQUIRE_GPU_CLOSE(softmax_bwd(gpu(g), gpu(y)), softmax_bwd(g, y), 1e-6);
    }
}

TEST_CASE("dropout_fwd and dropout_bwd on CUDA apply the CPU's mask bit for bit", "[cuda][entry][dropout]") {
    const Tensor<float> x = test::randu({2, 8, 33, 17}, 3), dy = test::randu({2, 8, 33, 17}, 4);
    const DropoutMask m{42, 7, 0.3};
    REQUIRE(dropout_fwd(gpu(x), m).to_vector() == dropout_fwd(x, m).to_vector());
    REQUIRE(dropout_bwd(gpu(dy), m).to_vector() == dropout_bwd(dy, m).to_vector());
}

TEST_CASE("add_fwd, mul_fwd, scale_fwd, sum_fwd and sum_bwd on CUDA match the CPU", "[cuda][entry][arithmetic]") {
    const Tensor<float> a = test::randu({3, 5, 7, 11}, 1), b = test::randu({3, 5, 7, 11}, 2);
    ICHSEG_REQUIRE_GPU_CLOSE(add_fwd(gpu(a), gpu(b)), add_fwd(a, b), 0);
    ICHSEG_REQUIRE_GPU_CLOSE(mul_fwd(gpu(a), gpu(b)), mul_fwd(a, b), 0);
    ICHSEG_REQUIRE_GPU_CLOSE(scale_fwd(gpu(a), 0.37f), scale_fwd(a, 0.37f), 0);
    const Tensor<float> s = sum_fwd(a), sg = sum_fwd(gpu(a));
    REQUIRE(sg.device().is_cuda());
    ICHSEG_REQUIRE_GPU_CLOSE(sg, s, 1e-6);  // double accumulation on both sides, different order
    const Tensor<float> g = test::randu({1}, 3);
    ICHSEG_REQUIRE_GPU_CLOSE(sum_bwd(gpu(g), a.shape()), sum_bwd(g, a.shape()), 0);
}

TEST_CASE("concat_fwd and concat_bwd (split) on CUDA match the CPU", "[cuda][entry][concat]") {
    const Tensor<float> x = test::randu({2, 6, 16, 18}, 5), y = test::randu({2, 3, 16, 18}, 6),
                        z = test::randu({2, 1, 16, 18}, 7);
    for (int64_t dim : {1, -1, 0}) {
        INFO("dim " << dim);
        std::vector<Tensor<float>> in;
        if (dim == 1)
            in = {x, y, z};
        else if (dim == -1)
            in = {x, x.narrow(3, 0, 5).contiguous()};
        else
            in = {x, test::randu({3, 6, 16, 18}, 8)};
        std::vector<Tensor<float>> in_g;
        std::vector<int64_t> sizes;
        const int64_t d = dim < 0 ? dim + 4 : dim;
        for (const auto& t : in) in_g.push_back(gpu(t)), sizes.push_back(t.size(d));
        const Tensor<float> c = concat_fwd(in, dim);
        ICHSEG_REQUIRE_GPU_CLOSE(concat_fwd(in_g, dim), c, 0);
        const Tensor<float> dc = test::randu(c.shape(), 9);
        const std::vector<Tensor<float>> parts = concat_bwd(dc, sizes, dim), parts_g = concat_bwd(gpu(dc), sizes, dim);
        REQUIRE(parts_g.size() == parts.size());
        for (size_t i = 0; i < parts.size(); ++i) ICHSEG_REQUIRE_GPU_CLOSE(parts_g[i], parts[i], 0);
    }
}

TEST_CASE("adam_update on CUDA matches the CPU (with and without weight decay)", "[cuda][entry][adam]") {
    for (float wd : {0.f, 1e-3f}) {
        INFO("weight decay " << wd);
        Tensor<float> p = test::randu({3000}, 1), m = Tensor<float>::zeros({3000}), v = Tensor<float>::zeros({3000});
        Tensor<float> pg = gpu(p), mg = gpu(m), vg = gpu(v);
        for (int t = 1; t <= 3; ++t) {
            const Tensor<float> g = test::randu({3000}, 10 + t);
            const AdamStep<float> s{static_cast<float>(1 - 0.9),
                                    0.999f,
                                    static_cast<float>(1 - 0.999),
                                    wd,
                                    static_cast<float>(1e-2 / (1 - std::pow(0.9, t))),
                                    static_cast<float>(std::sqrt(1 - std::pow(0.999, t))),
                                    1e-8f};
            optim::adam_update(p, g, m, v, s);
            optim::adam_update(pg, gpu(g), mg, vg, s);
        }
        // Same operations in the same order; sqrt and division correctly rounded on both: a few ulp at most.
        ICHSEG_REQUIRE_GPU_CLOSE(pg, p, 1e-6);
        ICHSEG_REQUIRE_GPU_CLOSE(mg, m, 1e-6);
        ICHSEG_REQUIRE_GPU_CLOSE(vg, v, 1e-6);
    }
}

TEST_CASE("every entry point refuses double tensors on CUDA, naming the op, the dtype and the device",
          "[cuda][entry][supports]") {
    const Device dev = Device::cuda(0);
    const Tensor<double> x4 = Tensor<double>::zeros({2, 3, 4, 4}, dev), x2 = Tensor<double>::zeros({2, 3}, dev),
                         w2 = Tensor<double>::zeros({5, 3}, dev), c = Tensor<double>::zeros({3}, dev);
    auto refused = [](const char* op, const std::function<void()>& f) {
        INFO(op);
        REQUIRE_THROWS_WITH(f(), Catch::Contains(std::string(op) + ": F64 tensors on cuda:0 are not supported by the "
                                                                   "CUDA backend") &&
                                     Catch::Contains("compute in float"));
    };
    refused("linear_fwd", [&] { linear_fwd(x2, w2, Tensor<double>()); });
    refused("linear_dgrad", [&] { linear_dgrad(Tensor<double>::zeros({2, 5}, dev), w2); });
    refused("linear_wgrad", [&] { linear_wgrad(Tensor<double>::zeros({2, 5}, dev), x2, true); });
    refused("batchnorm2d_fwd_train", [&] { batchnorm2d_fwd_train(x4, c, c, Tensor<double>(), Tensor<double>()); });
    refused("batchnorm2d_fwd_infer", [&] { batchnorm2d_fwd_infer(x4, c, c, c, c); });
    refused("batchnorm2d_bwd", [&] { batchnorm2d_bwd(x4, x4, Tensor<double>(), c, c, c, true); });
    refused("max_pool2d_fwd", [&] { max_pool2d_fwd(x4); });
    refused("max_pool2d_bwd", [&] { max_pool2d_bwd(Tensor<double>::zeros({2, 3, 2, 2}, dev), x4); });
    refused("global_avg_pool_fwd", [&] { global_avg_pool_fwd(x4); });
    refused("global_avg_pool_bwd", [&] { global_avg_pool_bwd(x2, x4.shape()); });
    refused("relu_fwd", [&] { relu_fwd(x4); });
    refused("relu_bwd", [&] { relu_bwd(x4, x4); });
    refused("sigmoid_fwd", [&] { sigmoid_fwd(x4); });
    refused("sigmoid_bwd", [&] { sigmoid_bwd(x4, x4); });
    refused("softmax_fwd", [&] { softmax_fwd(x4); });
    refused("softmax_bwd", [&] { softmax_bwd(x4, x4); });
    refused("dropout_fwd", [&] { dropout_fwd(x4, DropoutMask{1, 2, 0.5}); });
    refused("dropout_bwd", [&] { dropout_bwd(x4, DropoutMask{1, 2, 0.5}); });
    refused("add", [&] { add_fwd(x4, x4); });
    refused("mul", [&] { mul_fwd(x4, x4); });
    refused("scale", [&] { scale_fwd(x4, 2.0); });
    refused("sum", [&] { sum_fwd(x4); });
    refused("concat_fwd", [&] { concat_fwd<double>({x4, x4}, 1); });
    refused("concat_bwd", [&] { concat_bwd(x4, {1, 2}, 1); });
    refused("conv2d_fprop", [&] {
        conv2d_fprop(x4, Tensor<double>::zeros({2, 3, 3, 3}, dev), Tensor<double>(), Conv2dParams::same(3));
    });
    refused("adam_update", [&] {
        Tensor<double> p = c.clone(), m = c.clone(), v = c.clone();
        optim::adam_update(p, c, m, v, AdamStep<double>{0.1, 0.999, 0.001, 0, 1e-3, 1, 1e-8});
    });
}

TEST_CASE("entry points refuse arguments on different devices, naming both", "[cuda][entry][supports]") {
    const Tensor<float> a = test::randu({4, 5}, 1);
    REQUIRE_THROWS_WITH(add_fwd(gpu(a), a), Catch::Contains("add: arguments on different devices") &&
                                                Catch::Contains("on cuda:0") && Catch::Contains("on cpu"));
    REQUIRE_THROWS_WITH(linear_fwd(gpu(a), test::randu({3, 5}, 2), Tensor<float>()),
                        Catch::Contains("linear_fwd: arguments on different devices"));
    REQUIRE_THROWS_WITH(concat_fwd<float>({gpu(a), a}, 0),
                        Catch::Contains("concat_fwd: arguments on different devices"));
}
