/// @file test_loss_cross_entropy.cpp
/// @brief Softmax cross-entropy (binary classification pretext task): naive reference, stability, gradient
/// check, PyTorch golden values, bad input.
#include <catch2/catch.hpp>

#include "ichseg/loss/cross_entropy.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/golden.hpp"
#include "support/gradcheck.hpp"
#include "support/naive.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_loss_cross_entropy {

TEST_CASE("cross-entropy equals mean(log sum exp x - x_label), gradient (softmax - onehot) / B",
          "[loss][cross_entropy]") {
    const auto x = uniform<double>({6, 4}, 1, -3, 3);
    const auto y = Tensor<int64_t>::from_vector({6}, {0, 3, 1, 1, 2, 0});
    Var<double> xv(x, true);
    Var<double> l = cross_entropy_loss(xv, y);
    l.backward();
    CHECK(l.value()(0) == Approx(naive::cross_entropy(x, y)).epsilon(1e-14));
    const auto sm = naive::softmax(x);
    for (int64_t b = 0; b < 6; ++b)
        for (int64_t k = 0; k < 4; ++k)
            CHECK(xv.grad()(b, k) == Approx((sm(b, k) - (k == y(b) ? 1.0 : 0.0)) / 6).margin(1e-16).epsilon(1e-13));
}

TEST_CASE("cross-entropy is stable for large logits", "[loss][cross_entropy]") {
    Var<float> x(Tensor<float>::from_vector({2, 2}, {1000.f, -1000.f, 0.f, 80.f}), true);
    Var<float> l = cross_entropy_loss(x, Tensor<int64_t>::from_vector({2}, {1, 1}));
    l.backward();
    CHECK(l.value()(0) == Approx(1000.0).epsilon(1e-6));  // (2000 + ~0) / 2
    for (float g : x.grad().to_vector()) CHECK(std::isfinite(g));
}

TEST_CASE("cross-entropy finite-difference gradient check in double", "[loss][cross_entropy][gradcheck]") {
    const auto y = Tensor<int64_t>::from_vector({5}, {1, 0, 2, 2, 1});
    gradcheck([&](const std::vector<Var<double>>& v) { return cross_entropy_loss(v[0], y); },
              {uniform<double>({5, 3}, 2, -2, 2)});
}

TEST_CASE("cross-entropy matches PyTorch golden values", "[loss][cross_entropy][golden]") {
    const std::string f = "loss_cross_entropy";
    for (const std::string c : {"binary", "k3"}) {
        INFO("case " << c);
        // float inputs, computation in double inside: the only float rounding is the final cast (2 ulp).
        auto run = [&](auto zero, double rel) {
            using T = decltype(zero);
            Var<T> x(gold<T>(f, c + ".x"), true);
            Var<T> l = cross_entropy_loss(x, gold<int64_t>(f, c + ".labels"));
            l.backward();
            CHECK(l.value()(0) == Approx(gold<double>(f, c + ".loss")(0)).epsilon(rel));
            const auto edx = gold<double>(f, c + ".dx");
            ICHSEG_REQUIRE_CLOSE_SCALED(x.grad(), edx, rel);
        };
        run(0.0f, 2 * kEpsF);
        run(0.0, 1e-14);
    }
}

TEST_CASE("cross-entropy rejects bad labels and shapes", "[loss][cross_entropy][bad_input]") {
    Var<float> x(uniform<float>({3, 2}, 1));
    ICHSEG_REQUIRE_ERROR(cross_entropy_loss(x, Tensor<int64_t>::from_vector({2}, {0, 1})),
                         {"cross_entropy_loss", "[2]", "[3, 2]"});
    ICHSEG_REQUIRE_ERROR(cross_entropy_loss(x, Tensor<int64_t>::from_vector({3}, {0, 2, 1})),
                         {"cross_entropy_loss", "label 2", "[0, 2)"});
    ICHSEG_REQUIRE_ERROR(cross_entropy_loss(x, Tensor<int64_t>::from_vector({3}, {0, -1, 1})),
                         {"cross_entropy_loss", "label -1"});
    ICHSEG_REQUIRE_ERROR(cross_entropy_loss(Var<float>(uniform<float>({3}, 2)), Tensor<int64_t>::zeros({3})),
                         {"cross_entropy_loss", "[3]"});
}

}  // namespace test_loss_cross_entropy
