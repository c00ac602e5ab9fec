/// @file test_loss_dice.cpp
/// @brief Soft Dice, mixed weighted Dice (alpha on empty-mask samples, divisor B) and multi-label Dice
/// (SPEC §4): naive reference, identities, gradient check, PyTorch golden values, bad input.
#include <catch2/catch.hpp>

#include "ichseg/loss/dice.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/golden.hpp"
#include "support/gradcheck.hpp"
#include "support/naive.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_loss_dice {

namespace {
/// Binary masks (B, 1, H, W) with the listed samples empty.
template <class T>
Tensor<T> masks(const Shape& s, uint64_t seed, std::initializer_list<int64_t> empty) {
    Tensor<T> t = binary<T>(s, seed, 0.4);
    const int64_t m = t.numel() / s[0];
    for (int64_t b : empty) std::fill(t.data() + b * m, t.data() + (b + 1) * m, T(0));
    return t;
}
}  // namespace

TEST_CASE("soft and mixed Dice equal the per-sample formula, weighted by alpha on empty masks, divisor B",
          "[loss][dice]") {
    const Shape s{5, 1, 9, 7};
    const auto p = uniform<double>(s, 1, 0.0, 1.0);
    const auto t = masks<double>(s, 2, {1, 4});
    for (double alpha : {1.0, 0.2, 0.0}) {
        INFO("alpha " << alpha);
        Var<double> pv(p, true);
        Var<double> l = dice_loss(pv, t, {1.0, alpha});
        l.backward();
        auto [el, eg] = naive::dice(p, t, 1.0, alpha);
        CHECK(l.value()(0) == Approx(el).epsilon(1e-14));
        ICHSEG_REQUIRE_CLOSE(pv.grad(), eg, 1e-16, 1e-13);
        // explicit: the loss is (1/B) sum_b w_b (1 - (2 I + 1) / (P2 + T2 + 1))
        double by_hand = 0;
        for (int64_t b = 0; b < 5; ++b) {
            double I = 0, P2 = 0, T2 = 0;
            for (int64_t i = 0; i < 63; ++i) {
                I += p.data()[b * 63 + i] * t.data()[b * 63 + i];
                P2 += p.data()[b * 63 + i] * p.data()[b * 63 + i];
                T2 += t.data()[b * 63 + i];
            }
            by_hand += (b == 1 || b == 4 ? alpha : 1.0) * (1 - (2 * I + 1) / (P2 + T2 + 1));
        }
        CHECK(l.value()(0) == Approx(by_hand / 5).epsilon(1e-14));
    }
}

TEST_CASE("Dice of a perfect prediction is 0 with zero gradient, of p = 0 on an empty mask is 0", "[loss][dice]") {
    const auto t = masks<float>({3, 1, 8, 8}, 3, {});
    Var<float> pv(t.clone(), true);
    Var<float> l = dice_loss(pv, t);
    l.backward();
    CHECK(l.value()(0) == Approx(0.0).margin(1e-7));
    for (float g : pv.grad().to_vector()) REQUIRE(std::abs(g) < 1e-7f);
    Var<float> z(Tensor<float>::zeros({2, 1, 4, 4}), true);
    CHECK(dice_loss(z, Tensor<float>::zeros({2, 1, 4, 4}), {1.0, 0.2}).value()(0) == 0.f);
}

TEST_CASE("Dice in float matches the double reference", "[loss][dice]") {
    const Shape s{4, 1, 32, 32};
    const auto p = uniform<float>(s, 4, 0.0, 1.0);
    const auto t = masks<float>(s, 5, {2});
    Var<float> pv(p, true);
    Var<float> l = dice_loss(pv, t, {1.0, 0.2});
    l.backward();
    auto [el, eg] = naive::dice(p.cast<double>(), t.cast<double>(), 1.0, 0.2);
    // sums are accumulated in double, so only the final rounding to float remains: 2 ulp.
    CHECK(l.value()(0) == Approx(el).epsilon(2 * kEpsF));
    ICHSEG_REQUIRE_CLOSE_SCALED(pv.grad(), eg, 4 * kEpsF);
}

TEST_CASE("Dice finite-difference gradient checks in double (probabilities and through the sigmoid)",
          "[loss][dice][gradcheck]") {
    const Shape s{3, 1, 4, 5};
    const auto t = masks<double>(s, 6, {1});
    for (double alpha : {1.0, 0.2})
        gradcheck([&](const std::vector<Var<double>>& v) { return dice_loss(v[0], t, {1.0, alpha}); },
                  {uniform<double>(s, 7, 0.05, 0.95)});
    gradcheck([&](const std::vector<Var<double>>& v) { return dice_loss(sigmoid(v[0]), t, {1.0, 0.2}); },
              {uniform<double>(s, 8, -3, 3)});
    const auto tl = binary<double>({4, 7}, 9, 0.3);
    gradcheck([&](const std::vector<Var<double>>& v) { return multilabel_dice_loss(v[0], tl); },
              {uniform<double>({4, 7}, 10, -3, 3)});
}

TEST_CASE("soft, mixed and multi-label Dice match PyTorch golden values", "[loss][dice][golden]") {
    // float: sums in double; the loss is rounded once, gradients are a * p + c * t in float: 4 ulp of the scale.
    // Through the sigmoid: + the sigmoid's own rounding, 16 ulp. double: 1e-13.
    auto run = [](auto zero, double rel) {
        using T = decltype(zero);
        const std::string f = "loss_dice";
        const auto p = gold<T>(f, "p"), t = gold<T>(f, "t");
        for (const std::string c : {"soft", "mixed"}) {
            INFO("case " << c);
            Var<T> pv(p, true);
            Var<T> l = dice_loss(pv, t, {1.0, c == "soft" ? 1.0 : 0.2});
            l.backward();
            CHECK(l.value()(0) == Approx(gold<double>(f, c + ".loss")(0)).epsilon(rel));
            const auto edp = gold<double>(f, c + ".dp");
            ICHSEG_REQUIRE_CLOSE_SCALED(pv.grad(), edp, rel);
        }
        Var<T> z(gold<T>(f, "logits"), true);
        Var<T> l = dice_loss(sigmoid(z), t, {1.0, 0.2});
        l.backward();
        CHECK(l.value()(0) == Approx(gold<double>(f, "mixed_logits.loss")(0)).epsilon(4 * rel));
        const auto edz = gold<double>(f, "mixed_logits.dz");
        ICHSEG_REQUIRE_CLOSE_SCALED(z.grad(), edz, 4 * rel);

        const std::string m = "loss_multilabel_dice";
        Var<T> zm(gold<T>(m, "logits"), true);
        Var<T> lm = multilabel_dice_loss(zm, gold<T>(m, "t"));
        lm.backward();
        CHECK(lm.value()(0) == Approx(gold<double>(m, "loss")(0)).epsilon(4 * rel));
        const auto edzm = gold<double>(m, "dz");
        ICHSEG_REQUIRE_CLOSE_SCALED(zm.grad(), edzm, 4 * rel);
    };
    run(0.0f, 4 * kEpsF);
    run(0.0, 1e-13);
}

TEST_CASE("Dice losses reject mismatched shapes, naming the loss and both shapes", "[loss][dice][bad_input]") {
    Var<float> p(uniform<float>({2, 1, 4, 4}, 1, 0, 1));
    ICHSEG_REQUIRE_ERROR(dice_loss(p, Tensor<float>::zeros({2, 1, 4, 5})), {"dice_loss", "[2, 1, 4, 4]", "[2, 1, 4, 5]"});
    ICHSEG_REQUIRE_ERROR(dice_loss(Var<float>(Tensor<float>::zeros({0, 3})), Tensor<float>::zeros({0, 3})),
                         {"dice_loss", "[0, 3]"});
    ICHSEG_REQUIRE_ERROR(multilabel_dice_loss(p, Tensor<float>::zeros({2, 1, 4, 4})),
                         {"multilabel_dice_loss", "[2, 1, 4, 4]"});
    ICHSEG_REQUIRE_ERROR(multilabel_dice_loss(Var<float>(uniform<float>({2, 7}, 2)), Tensor<float>::zeros({2, 6})),
                         {"[2, 7]", "[2, 6]"});
}

}  // namespace test_loss_dice
