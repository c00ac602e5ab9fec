/// @file test_loss_local_contrastive.cpp
/// @brief Local contrastive loss (K x K cells, same positions in both views, within-image negatives): naive
/// reference with fixed cells, cell sampling, gradient check, PyTorch golden values, bad input.
#include <catch2/catch.hpp>

#include <set>

#include "ichseg/loss/local_contrastive.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/golden.hpp"
#include "support/gradcheck.hpp"
#include "support/naive.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_loss_local_contrastive {

TEST_CASE("local contrastive loss equals per-image NT-Xent over the chosen cells, mean over images",
          "[loss][local_contrastive]") {
    const auto f1 = uniform<double>({3, 4, 10, 8}, 1), f2 = uniform<double>({3, 4, 10, 8}, 2);
    // grid 3 x 2 of 3x3 cells (the last row and columns of the map are not covered)
    const auto cells = Tensor<int64_t>::from_vector({3, 3}, {0, 5, 2, 4, 1, 3, 5, 4, 0});
    Var<double> a(f1, true), b(f2, true);
    Var<double> l = local_contrastive_loss(a, b, cells, {3, 0.1});
    CHECK(l.value()(0) == Approx(naive::local_contrastive(f1, f2, cells, 3, 0.1)).epsilon(1e-13));
    l.backward();
    // pixels outside every chosen cell get exactly zero gradient
    for (int64_t n = 0; n < 3; ++n)
        for (int64_t c = 0; c < 4; ++c) {
            CHECK(a.grad()(n, c, 9, 0) == 0.0);
            CHECK(b.grad()(n, c, 2, 7) == 0.0);
        }
}

TEST_CASE("local contrastive loss: swapping the views leaves the loss unchanged", "[loss][local_contrastive]") {
    const auto f1 = uniform<double>({2, 3, 6, 6}, 3), f2 = uniform<double>({2, 3, 6, 6}, 4);
    const auto cells = Tensor<int64_t>::from_vector({2, 3}, {0, 1, 3, 2, 3, 1});
    const double l12 = local_contrastive_loss(Var<double>(f1), Var<double>(f2), cells).value()(0);
    const double l21 = local_contrastive_loss(Var<double>(f2), Var<double>(f1), cells).value()(0);
    CHECK(l12 == Approx(l21).epsilon(1e-13));
}

TEST_CASE("local contrastive loss reads a strided view of cells by index, not by memory order",
          "[loss][local_contrastive]") {
    const auto f1 = uniform<double>({2, 3, 6, 6}, 5), f2 = uniform<double>({2, 3, 6, 6}, 6);
    // columns 1..2 of a (2, 4) tensor: rows {3, 1} and {2, 0}; reading memory from the view's first element
    // would give {3, 1, 9, 9}, out of the 2 x 2 grid
    const auto wide = Tensor<int64_t>::from_vector({2, 4}, {9, 3, 1, 9, 9, 2, 0, 9});
    const Tensor<int64_t> cells = wide.narrow(1, 1, 2);
    REQUIRE_FALSE(cells.is_contiguous());
    const auto dense = Tensor<int64_t>::from_vector({2, 2}, {3, 1, 2, 0});
    const LossAndGrad<double> ls = local_contrastive_loss_value_and_grad(f1, f2, cells, {3, 0.1});
    const LossAndGrad<double> ld = local_contrastive_loss_value_and_grad(f1, f2, dense, {3, 0.1});
    CHECK(ls.value == ld.value);
    CHECK(ls.grads[0].to_vector() == ld.grads[0].to_vector());
    CHECK(ls.grads[1].to_vector() == ld.grads[1].to_vector());
}

TEST_CASE("sample_cells draws R distinct in-range cells per image, reproducibly", "[loss][local_contrastive]") {
    Generator g1(11), g2(11);
    const auto c1 = sample_cells(4, 85 * 85, 20, g1), c2 = sample_cells(4, 85 * 85, 20, g2);
    REQUIRE(c1.shape() == Shape{4, 20});
    CHECK(c1.to_vector() == c2.to_vector());
    for (int64_t b = 0; b < 4; ++b) {
        std::set<int64_t> s;
        for (int64_t r = 0; r < 20; ++r) {
            CHECK(c1(b, r) >= 0);
            CHECK(c1(b, r) < 85 * 85);
            s.insert(c1(b, r));
        }
        CHECK(s.size() == 20u);
    }
    // every cell can be drawn: all 6 of a 6-cell grid
    const auto all = sample_cells(1, 6, 6, g1);
    CHECK(std::set<int64_t>(all.data(), all.data() + 6).size() == 6u);
    ICHSEG_REQUIRE_ERROR(sample_cells(1, 5, 6, g1), {"sample_cells", "6", "5"});
}

TEST_CASE("local contrastive finite-difference gradient check in double", "[loss][local_contrastive][gradcheck]") {
    const auto cells = Tensor<int64_t>::from_vector({2, 3}, {0, 3, 1, 2, 0, 3});
    gradcheck(
        [&](const std::vector<Var<double>>& v) { return local_contrastive_loss(v[0], v[1], cells, {2, 0.1}); },
        {uniform<double>({2, 3, 4, 5}, 5), uniform<double>({2, 3, 4, 5}, 6)});
}

TEST_CASE("local contrastive loss matches PyTorch golden values", "[loss][local_contrastive][golden]") {
    const std::string f = "loss_local_contrastive";
    const auto cells = gold<int64_t>(f, "cells");
    auto run = [&](auto zero, double rel) {
        using T = decltype(zero);
        Var<T> a(gold<T>(f, "f1"), true), b(gold<T>(f, "f2"), true);
        Var<T> l = local_contrastive_loss(a, b, cells, {3, 0.1});
        l.backward();
        CHECK(l.value()(0) == Approx(gold<double>(f, "loss")(0)).epsilon(rel));
        const auto e1 = gold<double>(f, "df1"), e2 = gold<double>(f, "df2");
        ICHSEG_REQUIRE_CLOSE_SCALED(a.grad(), e1, rel);
        ICHSEG_REQUIRE_CLOSE_SCALED(b.grad(), e2, rel);
    };
    run(0.0f, 16 * kEpsF);  // as NT-Xent: rounding of float similarities amplified by up to 1/tau = 10
    run(0.0, 1e-12);
}

TEST_CASE("local contrastive loss rejects bad shapes and cells", "[loss][local_contrastive][bad_input]") {
    Var<float> a(uniform<float>({2, 3, 6, 6}, 1)), b(uniform<float>({2, 3, 6, 5}, 2));
    const auto cells = Tensor<int64_t>::from_vector({2, 2}, {0, 1, 2, 3});
    ICHSEG_REQUIRE_ERROR(local_contrastive_loss(a, b, cells), {"local_contrastive_loss", "[2, 3, 6, 6]", "[2, 3, 6, 5]"});
    ICHSEG_REQUIRE_ERROR(local_contrastive_loss(a, a, Tensor<int64_t>::from_vector({1, 2}, {0, 1})),
                         {"local_contrastive_loss", "[1, 2]", "[2, 3, 6, 6]"});
    ICHSEG_REQUIRE_ERROR(local_contrastive_loss(a, a, Tensor<int64_t>::from_vector({2, 2}, {0, 1, 2, 4})),
                         {"local_contrastive_loss", "cell index 4", "2 x 2"});
    ICHSEG_REQUIRE_ERROR(local_contrastive_loss(a, a, cells, {7, 0.1}), {"local_contrastive_loss", "7", "[2, 3, 6, 6]"});
}

}  // namespace test_loss_local_contrastive
