/// @file test_stats.cpp (tests)
/// @brief Welch t-test and Student-t distribution against SciPy 1.17.1 reference values, descriptive statistics
/// by hand, edge cases as SciPy, pairwise p-value matrices.
///
/// Reference values were generated once with (numpy 2.4.6, scipy 1.17.1):
///
///     import numpy as np
///     from scipy import stats
///     cases = {
///      "moderate": ([0.81,0.62,0.93,0.45,0.77,0.58,0.69],[0.52,0.71,0.33,0.48,0.60]),
///      "tiny_p": ([0.91,0.88,0.95,0.90,0.87,0.93,0.92,0.89,0.94,0.90,0.91,0.86],
///                 [0.10,0.15,0.08,0.12,0.11,0.09,0.14,0.13,0.10]),
///      "p_near_1": ([0.50,0.61,0.42,0.55,0.47],[0.51,0.60,0.43,0.54,0.47,0.50]),
///      "scipy_doc_like": ([1,2,3.5],[2,3,9]),
///     }
///     i = np.arange(200); j = np.arange(150)
///     cases["large_n"] = (list(0.5+0.3*np.sin(1.7*i)), list(0.45+0.25*np.cos(0.9*j)))
///     for k, (a, b) in cases.items():
///         r = stats.ttest_ind(a, b, equal_var=False)
///         print(f'{k}: t={r.statistic!r} p={r.pvalue!r} df={r.df!r}')
///     for t, df in [(0.5,3),(-1.7,2.4365336450158623),(2.2,1),(-40,5),(3.0,1000),(0.01,50),(12,7.5)]:
///         print(f'cdf t={t} df={df}: {stats.t.cdf(t,df)!r}')
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ichseg/eval/stats.hpp"
#include "support/errors.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::eval;

namespace {
struct WelchCase {
    const char* name;
    std::vector<double> a, b;
    double t, p, df;
};

std::vector<WelchCase> scipy_cases() {
    std::vector<double> la, lb;
    for (int i = 0; i < 200; ++i) la.push_back(0.5 + 0.3 * std::sin(1.7 * i));
    for (int j = 0; j < 150; ++j) lb.push_back(0.45 + 0.25 * std::cos(0.9 * j));
    return {
        {"moderate", {0.81, 0.62, 0.93, 0.45, 0.77, 0.58, 0.69}, {0.52, 0.71, 0.33, 0.48, 0.60},
         1.8866403770978863, 0.09041251574242176, 9.406251008589585},
        {"tiny_p", {0.91, 0.88, 0.95, 0.90, 0.87, 0.93, 0.92, 0.89, 0.94, 0.90, 0.91, 0.86},
         {0.10, 0.15, 0.08, 0.12, 0.11, 0.09, 0.14, 0.13, 0.10}, 71.09666120301209, 4.007996499463337e-24,
         18.606301284322566},
        {"p_near_1", {0.50, 0.61, 0.42, 0.55, 0.47}, {0.51, 0.60, 0.43, 0.54, 0.47, 0.50}, 0.04116237239748745,
         0.9682195935058192, 7.655777524980351},
        {"scipy_doc_like", {1, 2, 3.5}, {2, 3, 9}, -1.0853619079386327, 0.37335764064759336, 2.4365336450158623},
        {"large_n", la, lb, 2.2935448970733687, 0.0224191210099404, 344.001632535888},
    };
}
}  // namespace

TEST_CASE("Welch t-test matches scipy.stats.ttest_ind(equal_var=False)", "[eval][stats]") {
    for (const auto& c : scipy_cases()) {
        INFO("case " << c.name);
        const WelchResult r = welch_ttest(c.a, c.b);
        std::string rep;
        // t and df: the same closed-form expressions as SciPy evaluated in double; only summation order differs
        // (numpy pairwise sums), a few ulp on O(1) values -> 1e-12 relative is ~1000x that.
        CHECK(test::allclose(std::vector<double>{r.t, r.df}, std::vector<double>{c.t, c.df}, 0.0, 1e-12, &rep));
        INFO(rep);
        // p: both sides evaluate I_x(df/2, 1/2) to ~1e-15 relative; the relative error of t (~1e-13 at most) is
        // amplified by |d ln p / d ln t| ~ df + 1 ~ 20 for the tiny-p case -> 1e-10 relative leaves a wide margin.
        CHECK(test::allclose(std::vector<double>{r.p}, std::vector<double>{c.p}, 0.0, 1e-10, &rep));
        INFO(rep);
        CHECK(r.n_a == c.a.size());
        CHECK(r.n_b == c.b.size());
    }
}

TEST_CASE("Welch test is symmetric: swapping the samples negates t and keeps p", "[eval][stats]") {
    for (const auto& c : scipy_cases()) {
        const WelchResult ab = welch_ttest(c.a, c.b), ba = welch_ttest(c.b, c.a);
        CHECK(ab.t == -ba.t);  // same operations with the operands exchanged: exact
        CHECK(ab.p == ba.p);
        CHECK(ab.df == ba.df);
    }
}

TEST_CASE("Student-t CDF matches scipy.stats.t.cdf", "[eval][stats]") {
    const std::vector<std::array<double, 3>> ref = {
        {0.5, 3, 0.6742760175759245},         {-1.7, 2.4365336450158623, 0.1041761334244083},
        {2.2, 1, 0.8642002512199081},         {-40, 5, 9.205981085886477e-08},
        {3.0, 1000, 0.9986166454778809},      {0.01, 50, 0.5039694593164286},
        {12, 7.5, 0.9999981695967722}};
    std::vector<double> got, want;
    for (const auto& r : ref) {
        got.push_back(student_t_cdf(r[0], r[1]));
        want.push_back(r[2]);
    }
    std::string rep;
    // Both are double evaluations of the same regularized incomplete beta to ~1e-15; 1e-12 relative is a margin
    // of ~1000 (df = 1000 exercises the Stirling form of log B).
    CHECK(test::allclose(got, want, 0.0, 1e-12, &rep));
    INFO(rep);
    // Cauchy (df = 1) in closed form: F(t) = 1/2 + atan(t)/pi.
    for (double t : {-3.0, -0.2, 0.0, 0.7, 25.0}) CHECK(student_t_cdf(t, 1) == Approx(0.5 + std::atan(t) / M_PI).epsilon(1e-13));
}

TEST_CASE("regularized incomplete beta: closed forms and symmetry", "[eval][stats]") {
    // I_x(1, 1) = x; I_x(a, 1) = x^a; I_x(1, b) = 1 - (1-x)^b; I_x(a, b) = 1 - I_{1-x}(b, a).
    // Each is a few floating-point operations from exact: 1e-13 relative covers the continued fraction's 1e-16
    // convergence and the lgamma rounding of log B.
    for (double x : {0.01, 0.3, 0.5, 0.77, 0.999}) {
        CHECK(regularized_incomplete_beta(1, 1, x) == Approx(x).epsilon(1e-13));
        CHECK(regularized_incomplete_beta(3.5, 1, x) == Approx(std::pow(x, 3.5)).epsilon(1e-13));
        CHECK(regularized_incomplete_beta(1, 2.5, x) == Approx(1 - std::pow(1 - x, 2.5)).epsilon(1e-13));
        CHECK(regularized_incomplete_beta(2.2, 7.1, x) ==
              Approx(1 - regularized_incomplete_beta(7.1, 2.2, 1 - x)).epsilon(1e-13));
    }
    CHECK(regularized_incomplete_beta(2, 3, 0.0) == 0.0);
    CHECK(regularized_incomplete_beta(2, 3, 1.0) == 1.0);
    // log B against lgamma where both forms are well conditioned (moderate arguments; the Stirling branch is
    // used for the larger argument >= 10): relative 1e-13.
    for (auto ab : std::vector<std::pair<double, double>>{{12.5, 0.5}, {40, 3}, {10, 10}, {250, 0.5}})
        CHECK(log_beta(ab.first, ab.second) ==
              Approx(std::lgamma(ab.first) + std::lgamma(ab.second) - std::lgamma(ab.first + ab.second)).epsilon(1e-12));
    ICHSEG_REQUIRE_ERROR(regularized_incomplete_beta(-1, 2, 0.5), {"a and b must be positive", "a=-1"});
    ICHSEG_REQUIRE_ERROR(regularized_incomplete_beta(1, 2, 1.5), {"x must lie in [0, 1]", "x=1.5"});
}

TEST_CASE("Welch edge cases follow SciPy", "[eval][stats]") {
    // scipy: ttest_ind([1,1,1],[1,1,1],equal_var=False) -> t nan, p nan;
    //        ttest_ind([1,1,1],[2,2,2],equal_var=False) -> t -inf, p 0.0;  ttest_ind([1],[2,3]) -> nan.
    const WelchResult same = welch_ttest({1, 1, 1}, {1, 1, 1});
    CHECK(std::isnan(same.t));
    CHECK(std::isnan(same.p));
    const WelchResult diff = welch_ttest({1, 1, 1}, {2, 2, 2});
    CHECK(std::isinf(diff.t));
    CHECK(diff.t < 0);
    CHECK(diff.p == 0.0);
    const WelchResult small = welch_ttest({1}, {2, 3});
    CHECK(std::isnan(small.t));
    CHECK(std::isnan(small.p));
    CHECK(std::isnan(welch_ttest({}, {1, 2, 3}).p));
}

TEST_CASE("mean, variance and summarize by hand", "[eval][stats]") {
    const std::vector<double> v{0.2, 0.4, 0.9};
    // mean 0.5; squared deviations 0.09, 0.01, 0.16 (sum 0.26). Values are within a few ulp of the decimal
    // fractions, so 1e-14 relative is a margin of ~100.
    const Summary s1 = summarize(v);  // ddof = 1
    CHECK(s1.n == 3);
    CHECK(s1.mean == Approx(0.5).epsilon(1e-14));
    CHECK(s1.sd == Approx(std::sqrt(0.26 / 2)).epsilon(1e-14));
    const Summary s0 = summarize(v, 0);
    CHECK(s0.sd == Approx(std::sqrt(0.26 / 3)).epsilon(1e-14));
    CHECK(std::isnan(summarize({0.7}).sd));  // one value: sample sd undefined
    CHECK(summarize({0.7}, 0).sd == 0.0);
    CHECK(std::isnan(summarize({}).mean));
    ICHSEG_REQUIRE_ERROR(variance(v, -1), {"ddof", "-1"});
}

TEST_CASE("pairwise Welch matrix: symmetric p, antisymmetric t, unit diagonal", "[eval][stats]") {
    const auto cases = scipy_cases();
    const PairwiseTests pw = pairwise_welch({"A", "B", "C"}, {cases[0].a, cases[0].b, cases[2].a});
    REQUIRE(pw.p.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(pw.p[i][i] == 1.0);
        CHECK(pw.t[i][i] == 0.0);
        for (std::size_t j = 0; j < 3; ++j) {
            CHECK(pw.p[i][j] == pw.p[j][i]);
            CHECK(pw.t[i][j] == -pw.t[j][i]);
        }
    }
    // entry (A, B) is the "moderate" SciPy case; same tolerance argument as above
    CHECK(pw.p[0][1] == Approx(cases[0].p).epsilon(1e-10));
    CHECK(pw.t[0][1] == Approx(cases[0].t).epsilon(1e-12));
    ICHSEG_REQUIRE_ERROR(pairwise_welch({"A"}, {{1.0}, {2.0}}), {"pairwise_welch", "1 names", "2 samples"});
}
