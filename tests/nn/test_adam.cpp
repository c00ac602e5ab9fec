/// @file test_adam.cpp
/// @brief Adam with coupled L2 weight decay and ExponentialLR against torch.optim (golden values), the update
/// formula in double, and hyper-parameter errors.
#include <catch2/catch.hpp>

#include "ichseg/optim/adam.hpp"
#include "support/errors.hpp"
#include "support/golden.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_adam {

TEST_CASE("Adam (weight decay 0.1) and ExponentialLR match torch.optim over 5 steps", "[optim][adam][golden]") {
    const std::string f = "optim_adam";
    const auto grads = gold<float>(f, "grads"), after = gold<float>(f, "after");
    Var<float> p(gold<float>(f, "p0"), true);
    optim::Adam<float> opt({p}, {1e-2, 0.9, 0.999, 1e-8, 0.1});
    optim::ExponentialLR<float> sched(opt, 0.5);
    for (int64_t k = 0; k < 5; ++k) {
        INFO("step " << k + 1);
        p.mutable_grad() = grads[k].clone();
        opt.step();
        // float: a handful of element-wise operations per step, each within an ulp, on parameters of size ~1
        // moving by ~lr = 1e-2 per step: 1e-6 absolute (~8 ulp of 1) covers 5 steps of both implementations.
        ICHSEG_REQUIRE_CLOSE(p.value(), after[k], 1e-6, 1e-6);
        if (k == 1 || k == 3) sched.step();
    }
    CHECK(opt.lr() == Approx(2.5e-3));
    ICHSEG_REQUIRE_CLOSE(opt.state()[0].m, gold<float>(f, "exp_avg"), 1e-7, 1e-6);
    ICHSEG_REQUIRE_CLOSE(opt.state()[0].v, gold<float>(f, "exp_avg_sq"), 1e-9, 1e-6);
    CHECK(opt.state()[0].step == 5);
}

TEST_CASE("Adam update formula in double, one element by hand", "[optim][adam]") {
    Var<double> p(Tensor<double>::from_vector({1}, {2.0}), true);
    optim::Adam<double> opt({p}, {0.1, 0.9, 0.99, 1e-8, 0.5});
    p.mutable_grad() = Tensor<double>::from_vector({1}, {0.3});
    opt.step();
    // g = 0.3 + 0.5 * 2 = 1.3; m = 0.13; v = 0.01 * 1.69; p -= 0.1 / 0.1 * m / (sqrt(v) / sqrt(0.01) + eps)
    const double g = 1.3, m = 0.1 * g, v = 0.01 * g * g;
    const double expect = 2.0 - (0.1 / 0.1) * m / (std::sqrt(v) / std::sqrt(0.01) + 1e-8);
    CHECK(p.value()(0) == Approx(expect).epsilon(1e-14));
    // a parameter without a gradient is skipped
    Var<double> q(Tensor<double>::from_vector({1}, {1.0}), true);
    optim::Adam<double> opt2({q});
    opt2.step();
    CHECK(q.value()(0) == 1.0);
    CHECK(opt2.state()[0].step == 0);
}

TEST_CASE("Adam and ExponentialLR reject invalid hyper-parameters", "[optim][adam][bad_input]") {
    Var<float> p(Tensor<float>::zeros({2}), true);
    ICHSEG_REQUIRE_ERROR(optim::Adam<float>({p}, {-1.0}), {"Adam", "lr -1"});
    ICHSEG_REQUIRE_ERROR(optim::Adam<float>({p}, {1e-3, 1.0}), {"Adam", "betas 1"});
    optim::Adam<float> ok({p});
    ICHSEG_REQUIRE_ERROR(optim::ExponentialLR<float>(ok, 0.0), {"ExponentialLR", "gamma"});
}

}  // namespace test_adam
