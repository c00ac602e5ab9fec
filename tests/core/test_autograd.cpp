/// @file test_autograd.cpp
/// @brief The tape: the one gradient accumulation rule (leaves accumulate until zero_grad, fan-out sums,
/// graphs backpropagate once), NoGradGuard, detach, seeds, leaf gradients that never alias, and errors.
#include <catch2/catch.hpp>

#include <thread>

#include "ichseg/autograd/variable.hpp"
#include "ichseg/ops/arithmetic.hpp"
#include "ichseg/ops/linear.hpp"
#include "ichseg/ops/relu.hpp"
#include "ichseg/ops/reshape.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_autograd {

TEST_CASE("leaf gradients accumulate across backward calls until zero_grad", "[autograd]") {
    const auto x = integers<double>({2, 3}, 1), k = integers<double>({2, 3}, 2);
    Var<double> xv(x, true);
    CHECK_FALSE(xv.grad().defined());  // no gradient before the first backward
    for (int call = 1; call <= 3; ++call) {
        sum(mul(xv, Var<double>(k))).backward();  // d/dx sum(x * k) = k
        for (int64_t i = 0; i < 6; ++i) REQUIRE(xv.grad().data()[i] == call * k.data()[i]);
    }
    xv.zero_grad();
    CHECK_FALSE(xv.grad().defined());
    sum(mul(xv, Var<double>(k))).backward();
    for (int64_t i = 0; i < 6; ++i) REQUIRE(xv.grad().data()[i] == k.data()[i]);
}

TEST_CASE("micro-batch gradients summed by accumulation equal the gradient of the summed loss", "[autograd]") {
    const auto w0 = uniform<double>({3, 4}, 3), xa = uniform<double>({2, 4}, 4), xb = uniform<double>({5, 4}, 5);
    Var<double> w1(w0.clone(), true), w2(w0.clone(), true);
    sum(linear(Var<double>(xa), w1, Var<double>())).backward();
    sum(linear(Var<double>(xb), w1, Var<double>())).backward();
    sum(add(sum(linear(Var<double>(xa), w2, Var<double>())), sum(linear(Var<double>(xb), w2, Var<double>()))))
        .backward();
    ICHSEG_REQUIRE_CLOSE(w1.grad(), w2.grad(), 1e-15, 1e-14);
}

TEST_CASE("a value used several times (fan-out) receives the sum of its gradients", "[autograd]") {
    const auto x = integers<double>({4}, 6);
    Var<double> xv(x, true);
    Var<double> h = scale(xv, 3.0);  // intermediate, used three times
    Var<double> y = add(add(h, mul(h, h)), relu(h));
    y.backward(Tensor<double>::full({4}, 1.0));
    // y = h + h^2 + relu(h), h = 3x: dy/dx = 3 (1 + 2h + [h > 0])
    for (int64_t i = 0; i < 4; ++i) {
        const double hv = 3 * x.data()[i];
        REQUIRE(xv.grad().data()[i] == 3 * (1 + 2 * hv + (hv > 0 ? 1 : 0)));
    }
    CHECK_FALSE(h.grad().defined());  // gradients of intermediate values are not kept
}

TEST_CASE("a graph can be backpropagated only once", "[autograd]") {
    Var<double> x(uniform<double>({3}, 7), true);
    Var<double> y = sum(mul(x, x));
    y.backward();
    ICHSEG_REQUIRE_ERROR(y.backward(), {"already backpropagated", "recompute the forward pass"});
    // a fresh forward pass works again (and accumulates)
    const auto g1 = x.grad().clone();
    sum(mul(x, x)).backward();
    ICHSEG_REQUIRE_CLOSE(x.grad(), std::vector<double>({2 * g1(0), 2 * g1(1), 2 * g1(2)}), 0.0, 1e-15);
}

TEST_CASE("leaf gradients never alias the seed, another gradient or each other", "[autograd]") {
    Var<double> a(uniform<double>({2, 2}, 8), true), b(uniform<double>({2, 2}, 9), true);
    Tensor<double> seed = Tensor<double>::full({2, 2}, 1.0);
    add(a, b).backward(seed);
    CHECK_FALSE(a.grad().shares_buffer_with(seed));
    CHECK_FALSE(b.grad().shares_buffer_with(seed));
    CHECK_FALSE(a.grad().shares_buffer_with(b.grad()));
    a.mutable_grad().data()[0] = 42.0;  // e.g. an in-place gradient clip
    CHECK(b.grad().data()[0] == 1.0);
    CHECK(seed.data()[0] == 1.0);
    // reshape returns a view of its incoming gradient: still no aliasing with the caller's seed
    Var<double> c(uniform<double>({4}, 10), true);
    Tensor<double> seed2 = Tensor<double>::full({2, 2}, 2.0);
    reshape(c, {2, 2}).backward(seed2);
    CHECK_FALSE(c.grad().shares_buffer_with(seed2));
    // a leaf root receives a copy of the seed
    Var<double> d(uniform<double>({2}, 11), true);
    Tensor<double> seed3 = Tensor<double>::full({2}, 3.0);
    d.backward(seed3);
    CHECK_FALSE(d.grad().shares_buffer_with(seed3));
    CHECK(d.grad().to_vector() == std::vector<double>({3.0, 3.0}));
}

TEST_CASE("backward checks its seed and that there is something to differentiate", "[autograd]") {
    Var<double> x(uniform<double>({2, 3}, 12), true);
    Var<double> y = mul(x, x);
    ICHSEG_REQUIRE_ERROR(y.backward(), {"backward", "[2, 3]", "one-element"});
    ICHSEG_REQUIRE_ERROR(y.backward(Tensor<double>::zeros({3, 2})), {"backward", "[3, 2]", "[2, 3]"});
    Var<double> c(uniform<double>({1}, 13));
    ICHSEG_REQUIRE_ERROR(c.backward(), {"does not require a gradient"});
    ICHSEG_REQUIRE_ERROR(Var<double>().value(), {"undefined Var"});
    ICHSEG_REQUIRE_ERROR(y.set_requires_grad(false), {"non-leaf", "detach"});
}

TEST_CASE("only inputs that require a gradient receive one", "[autograd]") {
    Var<double> a(uniform<double>({3}, 14), true), b(uniform<double>({3}, 15), false);
    sum(mul(a, b)).backward();
    CHECK(a.grad().defined());
    CHECK_FALSE(b.grad().defined());
    CHECK_FALSE(mul(b, b).requires_grad());  // no input requires a gradient: nothing recorded
    CHECK(mul(b, b).is_leaf());
}

TEST_CASE("NoGradGuard stops recording, nests, restores, and is per thread", "[autograd]") {
    Var<double> x(uniform<double>({3}, 16), true);
    CHECK(grad_enabled());
    {
        NoGradGuard g;
        CHECK_FALSE(grad_enabled());
        Var<double> y = mul(x, x);
        CHECK_FALSE(y.requires_grad());
        CHECK(y.is_leaf());
        {
            NoGradGuard inner;
            CHECK_FALSE(grad_enabled());
        }
        CHECK_FALSE(grad_enabled());  // the inner guard restores the outer state, not "enabled"
        bool other_thread_enabled = false;
        std::thread t([&] { other_thread_enabled = grad_enabled(); });
        t.join();
        CHECK(other_thread_enabled);
    }
    CHECK(grad_enabled());
    CHECK(mul(x, x).requires_grad());
}

TEST_CASE("detach cuts the tape, the detached value shares the data", "[autograd]") {
    Var<double> x(uniform<double>({3}, 17), true);
    Var<double> h = mul(x, x);
    Var<double> d = h.detach();
    CHECK_FALSE(d.requires_grad());
    CHECK(d.value().shares_buffer_with(h.value()));
    Var<double> y = sum(add(h, d));
    y.backward();
    for (int64_t i = 0; i < 3; ++i) REQUIRE(x.grad().data()[i] == 2 * x.value().data()[i]);  // only through h
}

TEST_CASE("backward visits a diamond-shaped graph in a valid order", "[autograd]") {
    // x -> a = 2x -> (b = a*a, c = a + a) -> y = b + c; dy/dx = 2 (2a + 2)
    Var<double> x(Tensor<double>::from_vector({2}, {1.5, -2.0}), true);
    Var<double> a = scale(x, 2.0);
    Var<double> y = sum(add(mul(a, a), add(a, a)));
    y.backward();
    CHECK(x.grad()(0) == 2 * (2 * 3.0 + 2));
    CHECK(x.grad()(1) == 2 * (2 * -4.0 + 2));
}

}  // namespace test_autograd
