/// @file test_entry_points.cpp
/// @brief The tensor-level entry points that the differentiable ops are built on (and that the [cuda] tests call
/// on both devices), on the CPU: the backward roles against exact references where a role is a plain
/// rearrangement or reduction, the validation of each backward entry point's arguments, and the dispatch's
/// supports() step (a refusal names the op, the dtype and the device).
#include <catch2/catch.hpp>

#include <cmath>

#include "ichseg/ops/arithmetic.hpp"
#include "ichseg/ops/batchnorm2d.hpp"
#include "ichseg/ops/concat.hpp"
#include "ichseg/ops/dropout.hpp"
#include "ichseg/ops/global_avg_pool.hpp"
#include "ichseg/ops/linear.hpp"
#include "ichseg/ops/max_pool2d.hpp"
#include "ichseg/ops/softmax.hpp"
#include "ichseg/optim/adam.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"

using namespace ichseg;
using namespace ichseg::test;

namespace test_entry_points {

TEST_CASE("concat_bwd (split) inverts concat_fwd along every dimension (exact)", "[ops][entry]") {
    const Shape s0{2, 3, 4, 5};
    for (int64_t dim = -1; dim < 4; ++dim) {
        const int64_t d = dim < 0 ? dim + 4 : dim;
        Shape s1 = s0;
        s1[d] = 2;
        const Tensor<float> a = integers<float>(s0, 1), b = integers<float>(s1, 2);
        const Tensor<float> c = concat_fwd<float>({a, b}, dim);
        const std::vector<Tensor<float>> parts = concat_bwd(c, {s0[d], s1[d]}, dim);
        REQUIRE(parts.size() == 2);
        CHECK(parts[0].to_vector() == a.to_vector());
        CHECK(parts[1].to_vector() == b.to_vector());
    }
    ICHSEG_REQUIRE_ERROR(concat_bwd(integers<float>(s0, 3), {1, 1}, 1), {"concat_bwd", "do not tile", "[2, 3, 4, 5]"});
    ICHSEG_REQUIRE_ERROR(concat_bwd(integers<float>(s0, 3), {1, 2}, 4), {"concat_bwd", "dimension 4"});
    ICHSEG_REQUIRE_ERROR(concat_fwd<float>({integers<float>(s0, 1), Tensor<float>()}, 1), {"concat_fwd", "input 1"});
}

TEST_CASE("linear_wgrad's bias gradient is the column sum of dy, and linear_dgrad and _wgrad check their shapes",
          "[ops][entry]") {
    const Tensor<float> dy = integers<float>({5, 3}, 1), x = integers<float>({5, 4}, 2), w = integers<float>({3, 4}, 3);
    const auto [dw, db] = linear_wgrad(dy, x, true);
    REQUIRE(dw.shape() == Shape({3, 4}));
    for (int64_t o = 0; o < 3; ++o) {
        float s = 0;
        for (int64_t n = 0; n < 5; ++n) s += dy.at({n, o});
        CHECK(db.at({o}) == s);
        for (int64_t i = 0; i < 4; ++i) {
            float r = 0;
            for (int64_t n = 0; n < 5; ++n) r += dy.at({n, o}) * x.at({n, i});
            CHECK(dw.at({o, i}) == r);  // small integers: exact in any order
        }
    }
    CHECK(!linear_wgrad(dy, x, false).second.defined());
    const Tensor<float> dx = linear_dgrad(dy, w);
    for (int64_t n = 0; n < 5; ++n)
        for (int64_t i = 0; i < 4; ++i) {
            float r = 0;
            for (int64_t o = 0; o < 3; ++o) r += dy.at({n, o}) * w.at({o, i});
            CHECK(dx.at({n, i}) == r);
        }
    ICHSEG_REQUIRE_ERROR(linear_dgrad(dy, integers<float>({4, 4}, 4)), {"linear_dgrad", "[5, 3]", "[4, 4]"});
    ICHSEG_REQUIRE_ERROR(linear_wgrad(dy, integers<float>({6, 4}, 5), true), {"linear_wgrad", "batch size"});
    ICHSEG_REQUIRE_ERROR(linear_fwd(x, w, integers<float>({4}, 6)), {"linear_fwd", "bias", "(3)"});
}

TEST_CASE("global_avg_pool_bwd and sum_bwd broadcast dy, and max_pool2d_bwd and softmax_bwd check dy", "[ops][entry]") {
    const Tensor<float> dy = integers<float>({2, 3}, 1);
    const Tensor<float> dx = global_avg_pool_bwd(dy, {2, 3, 2, 4});
    for (int64_t n = 0; n < 2; ++n)
        for (int64_t c = 0; c < 3; ++c)
            for (int64_t i = 0; i < 8; ++i) CHECK(dx.data()[(n * 3 + c) * 8 + i] == dy.at({n, c}) / 8.f);
    ICHSEG_REQUIRE_ERROR(global_avg_pool_bwd(dy, {2, 4, 2, 4}), {"global_avg_pool_bwd", "[2, 3]", "[2, 4]"});
    const Tensor<float> s = sum_bwd(Tensor<float>::full({1}, 2.5f), {3, 2});
    CHECK(s.to_vector() == std::vector<float>(6, 2.5f));
    ICHSEG_REQUIRE_ERROR(sum_bwd(dy, {3, 2}), {"sum_bwd", "one element"});
    const Tensor<float> x = integers<float>({1, 2, 4, 4}, 2);
    ICHSEG_REQUIRE_ERROR(max_pool2d_bwd(integers<float>({1, 2, 3, 2}, 3), x), {"max_pool2d_bwd", "[1, 2, 2, 2]"});
    ICHSEG_REQUIRE_ERROR(softmax_bwd(integers<float>({2, 3}, 3), integers<float>({3, 2}, 4)),
                         {"softmax_bwd", "[2, 3]", "[3, 2]"});
}

TEST_CASE("batchnorm2d_fwd_infer returns the running statistics it used, and _bwd checks them", "[ops][entry]") {
    const Tensor<double> x = uniform<double>({2, 3, 4, 4}, 1), rm = uniform<double>({3}, 2),
                         rv = uniform<double>({3}, 3, 0.5, 2.0);
    const BatchNorm2dParams p{1e-3, 0.1, false};
    const BatchNorm2dForward<double> f = batchnorm2d_fwd_infer(x, Tensor<double>(), Tensor<double>(), rm, rv, p);
    for (int64_t c = 0; c < 3; ++c) {
        CHECK(f.save_mean.at({c}) == rm.at({c}));
        CHECK(f.save_invstd.at({c}) == 1.0 / std::sqrt(rv.at({c}) + 1e-3));
        CHECK(f.y.at({1, c, 2, 3}) == Approx((x.at({1, c, 2, 3}) - rm.at({c})) / std::sqrt(rv.at({c}) + 1e-3)));
    }
    ICHSEG_REQUIRE_ERROR(batchnorm2d_bwd(x, x, Tensor<double>(), Tensor<double>(), rm, uniform<double>({2}, 4), false),
                         {"batchnorm2d_bwd", "saved statistics", "(3)"});
    ICHSEG_REQUIRE_ERROR(batchnorm2d_bwd(x, x, Tensor<double>(), Tensor<double>(), rm, rv, false, {1e-5, 0.1, true}),
                         {"batchnorm2d_bwd", "undefined"});
    ICHSEG_REQUIRE_ERROR(batchnorm2d_fwd_infer(x, Tensor<double>(), Tensor<double>(), rm, Tensor<double>()),
                         {"batchnorm2d_fwd_infer", "running statistics are required"});
}

TEST_CASE("dropout_fwd and dropout_bwd are the same mask, and adam_update checks its tensors", "[ops][entry]") {
    const Tensor<float> x = uniform<float>({1000}, 1);
    const DropoutMask m{5, 9, 0.25};
    CHECK(dropout_fwd(x, m).to_vector() == dropout_bwd(x, m).to_vector());
    ICHSEG_REQUIRE_ERROR(dropout_fwd(x, DropoutMask{5, 9, 1.0}), {"dropout_fwd", "[0, 1)"});
    Tensor<float> p = uniform<float>({4}, 2), mo = Tensor<float>::zeros({4}), v = Tensor<float>::zeros({5});
    ICHSEG_REQUIRE_ERROR(
        optim::adam_update(p, uniform<float>({4}, 3), mo, v, AdamStep<float>{0.1f, 0.999f, 1e-3f, 0, 1e-3f, 1, 1e-8f}),
        {"adam_update", "one shape"});
}

TEST_CASE("the dispatch asks the backend's supports() first: a refusal names the op, the dtype and the device",
          "[ops][entry]") {
    const LinearGeometry g{2, 3, 4};
    CHECK(cpu::supports<float>(g).ok());
    CHECK(cpu::supports<double>(g).ok());
    const Support no_int = cpu::supports<int>(g);
    CHECK(!no_int.ok());
    CHECK(no_int.reason.find("float or double") != std::string::npos);
    CHECK(all_of(Support::yes(), Support::no("first"), Support::no("second")).reason == "first");
    CHECK(all_of(Support::yes(), Support::yes()).ok());
    ICHSEG_REQUIRE_ERROR(detail::require_support<double>("my_op", Device::cuda(1), Support::no("why not")),
                         {"my_op: F64 tensors on cuda:1 are not supported by the CUDA backend: why not"});
    detail::require_support<float>("my_op", Device::cpu(), Support::yes());  // no throw
}

}  // namespace test_entry_points
