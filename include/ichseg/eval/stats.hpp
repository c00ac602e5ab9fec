/// @file stats.hpp
/// @brief Descriptive statistics (mean, sd with a chosen ddof), the Student-t distribution through the
/// regularized incomplete beta function (own continued-fraction implementation, modified Lentz), the two-sided
/// Welch t-test (unequal variances, Welch–Satterthwaite df), pairwise p-value matrices between methods, and
/// box-plot summaries (quartiles with linear interpolation, whiskers at 1.5 IQR, outliers; as matplotlib).
///
/// The Welch test reproduces `scipy.stats.ttest_ind(a, b, equal_var=False)` (two-sided), including its edge
/// cases: fewer than 2 values in a sample or two constant samples with equal means give NaN; two constant
/// samples with different means give t = ±inf and p = 0.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"

namespace ichseg::eval {

// ---- descriptive statistics ------------------------------------------------------------------------------------

/// n, mean and standard deviation of a sample. `sd` uses the divisor n - ddof (NaN when n - ddof <= 0).
struct Summary {
    std::size_t n = 0;
    double mean = std::numeric_limits<double>::quiet_NaN();
    double sd = std::numeric_limits<double>::quiet_NaN();
};

/// Mean (NaN when empty).
inline double mean(const std::vector<double>& v) {
    if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
    double s = 0;
    for (double x : v) s += x;
    return s / static_cast<double>(v.size());
}

/// Variance with divisor n - ddof, two-pass (mean first) for accuracy. NaN when n - ddof <= 0.
inline double variance(const std::vector<double>& v, int ddof = 1) {
    ICHSEG_CHECK(ddof >= 0, "variance: ddof must be >= 0, got ", ddof);
    const double n = static_cast<double>(v.size());
    if (n - ddof <= 0) return std::numeric_limits<double>::quiet_NaN();
    const double m = mean(v);
    double s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return s / (n - ddof);
}

/// n, mean and sd (divisor n - ddof). The library default ddof = 1 (sample sd) is what pandas' `.std()` and
/// the variances inside the Welch test use; see docs/evaluation.md.
inline Summary summarize(const std::vector<double>& v, int ddof = 1) {
    Summary s;
    s.n = v.size();
    s.mean = mean(v);
    s.sd = std::sqrt(variance(v, ddof));
    return s;
}

// ---- special functions -----------------------------------------------------------------------------------------

namespace detail {
/// Stirling-series remainder: lgamma(x) = (x - 1/2) log x - x + log(2 pi)/2 + stirling_delta(x), for x >= 10.
inline double stirling_delta(double x) {
    const double r = 1.0 / x, r2 = r * r;
    return r * (1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 * (1.0 / 1680 - r2 / 1188))));
}
}  // namespace detail

/// log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b). For a large argument the difference
/// lgamma(big) - lgamma(big + small) is formed analytically (Stirling series) instead of by cancelling two large
/// numbers, which keeps ~1e-15 relative accuracy for the t distribution at large degrees of freedom.
inline double log_beta(double a, double b) {
    ICHSEG_CHECK(a > 0 && b > 0, "log_beta: arguments must be positive, got a=", a, " b=", b);
    const double big = std::max(a, b), small = std::min(a, b);
    if (big < 10) return std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b);
    const double s = big + small;
    // lgamma(big) - lgamma(s) = (big-1/2) log big - (s-1/2) log s + small + delta(big) - delta(s)
    //                         = -(big-1/2) log1p(small/big) - small log s + small + delta(big) - delta(s)
    const double diff = -(big - 0.5) * std::log1p(small / big) - small * std::log(s) + small +
                        detail::stirling_delta(big) - detail::stirling_delta(s);
    return std::lgamma(small) + diff;
}

namespace detail {
/// Continued fraction of the incomplete beta function (modified Lentz). Converges fast for x < (a+1)/(a+b+2).
inline double ibeta_continued_fraction(double a, double b, double x) {
    constexpr double tiny = 1e-300, eps = 1e-16;
    constexpr int max_iter = 100000;
    const double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1, d = 1 - qab * x / qap;
    if (std::abs(d) < tiny) d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= max_iter; ++m) {
        const double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));  // even step
        d = 1 + aa * d;
        if (std::abs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (std::abs(c) < tiny) c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));  // odd step
        d = 1 + aa * d;
        if (std::abs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (std::abs(c) < tiny) c = tiny;
        d = 1 / d;
        const double del = d * c;
        h *= del;
        if (std::abs(del - 1) < eps) return h;
    }
    fail("regularized_incomplete_beta: continued fraction did not converge for a=", a, " b=", b, " x=", x);
}
}  // namespace detail

/// I_x(a, b), the regularized incomplete beta function, given x and y = 1 - x separately (pass y computed without
/// cancellation when x is close to 1; that is what keeps p-values near 1 and near 0 accurate).
inline double regularized_incomplete_beta(double a, double b, double x, double y) {
    ICHSEG_CHECK(a > 0 && b > 0, "regularized_incomplete_beta: a and b must be positive, got a=", a, " b=", b);
    ICHSEG_CHECK(x >= 0 && x <= 1 && y >= 0 && y <= 1,
                 "regularized_incomplete_beta: x must lie in [0, 1], got x=", x, " (1-x=", y, ")");
    if (x == 0) return 0;
    if (y == 0) return 1;
    const double log_front = a * std::log(x) + b * std::log(y) - log_beta(a, b);
    if (x < (a + 1) / (a + b + 2)) return std::exp(log_front) * detail::ibeta_continued_fraction(a, b, x) / a;
    return 1 - std::exp(log_front) * detail::ibeta_continued_fraction(b, a, y) / b;
}

/// I_x(a, b) with y = 1 - x.
inline double regularized_incomplete_beta(double a, double b, double x) {
    return regularized_incomplete_beta(a, b, x, 1 - x);
}

/// P(|T| >= |t|) for T ~ Student-t with df degrees of freedom (df > 0, not necessarily integer):
/// I_{df/(df+t^2)}(df/2, 1/2). t = ±inf gives 0; NaN in gives NaN.
inline double student_t_two_sided_p(double t, double df) {
    ICHSEG_CHECK(df > 0 || std::isnan(df), "student_t_two_sided_p: df must be positive, got ", df);
    if (std::isnan(t) || std::isnan(df)) return std::numeric_limits<double>::quiet_NaN();
    if (std::isinf(t)) return 0.0;
    const double t2 = t * t;
    const double x = df / (df + t2), y = t2 / (df + t2);
    return regularized_incomplete_beta(df / 2, 0.5, x, y);
}

/// P(T <= t) for T ~ Student-t with df degrees of freedom.
inline double student_t_cdf(double t, double df) {
    if (std::isnan(t) || std::isnan(df)) return std::numeric_limits<double>::quiet_NaN();
    const double tail = 0.5 * student_t_two_sided_p(t, df);  // P(T >= |t|)
    return t < 0 ? tail : 1 - tail;
}

// ---- Welch t-test ----------------------------------------------------------------------------------------------

/// Result of a two-sided Welch t-test of mean(a) == mean(b). Variances are sample variances (ddof = 1).
struct WelchResult {
    double t = std::numeric_limits<double>::quiet_NaN();   ///< (mean_a - mean_b) / sqrt(var_a/n_a + var_b/n_b)
    double df = std::numeric_limits<double>::quiet_NaN();  ///< Welch–Satterthwaite degrees of freedom
    double p = std::numeric_limits<double>::quiet_NaN();   ///< two-sided p-value
    double mean_a = 0, mean_b = 0, var_a = 0, var_b = 0;
    std::size_t n_a = 0, n_b = 0;
};

/// Two-sided Welch t-test (unequal variances), as scipy.stats.ttest_ind(a, b, equal_var=False).
/// Needs no minimum sample size: with n < 2 in either sample the result is NaN (as SciPy), never an error.
inline WelchResult welch_ttest(const std::vector<double>& a, const std::vector<double>& b) {
    WelchResult r;
    r.n_a = a.size();
    r.n_b = b.size();
    r.mean_a = mean(a);
    r.mean_b = mean(b);
    r.var_a = variance(a, 1);
    r.var_b = variance(b, 1);
    if (r.n_a < 2 || r.n_b < 2) return r;
    const double sa = r.var_a / static_cast<double>(r.n_a), sb = r.var_b / static_cast<double>(r.n_b);
    const double se2 = sa + sb;
    const double diff = r.mean_a - r.mean_b;
    r.df = se2 * se2 / (sa * sa / static_cast<double>(r.n_a - 1) + sb * sb / static_cast<double>(r.n_b - 1));
    if (se2 == 0) {  // both samples constant
        if (diff == 0) return r;  // t = 0/0: NaN, as SciPy
        r.t = diff > 0 ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
        r.p = 0;
        if (std::isnan(r.df)) r.df = static_cast<double>(std::min(r.n_a, r.n_b) - 1);
        return r;
    }
    r.t = diff / std::sqrt(se2);
    r.p = student_t_two_sided_p(r.t, r.df);
    return r;
}

// ---- pairwise comparisons --------------------------------------------------------------------------------------

/// Square matrices of pairwise Welch tests between named samples: entry (i, j) compares sample i with sample j
/// (t is antisymmetric, p and df symmetric). The diagonal holds p = 1, t = 0 (a sample against itself).
struct PairwiseTests {
    std::vector<std::string> names;
    std::vector<std::vector<double>> p, t, df;
};

/// Welch tests between every pair of samples (e.g. one per method for one metric on one dataset).
inline PairwiseTests pairwise_welch(const std::vector<std::string>& names,
                                   const std::vector<std::vector<double>>& samples) {
    ICHSEG_CHECK(names.size() == samples.size(), "pairwise_welch: ", names.size(), " names but ", samples.size(),
                 " samples");
    const std::size_t m = names.size();
    PairwiseTests r;
    r.names = names;
    r.p.assign(m, std::vector<double>(m, 1.0));
    r.t.assign(m, std::vector<double>(m, 0.0));
    r.df.assign(m, std::vector<double>(m, std::numeric_limits<double>::quiet_NaN()));
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = i + 1; j < m; ++j) {
            const WelchResult w = welch_ttest(samples[i], samples[j]);
            r.p[i][j] = r.p[j][i] = w.p;
            r.t[i][j] = w.t;
            r.t[j][i] = -w.t;
            r.df[i][j] = r.df[j][i] = w.df;
        }
    return r;
}

// ---- box-plot summaries -------------------------------------------------------------------------------------------------

/// Quantile of sorted data with linear interpolation between order statistics (numpy's default "linear").
inline double quantile_sorted(const std::vector<double>& s, double q) {
    ICHSEG_CHECK(!s.empty(), "quantile_sorted: empty sample");
    const double pos = q * static_cast<double>(s.size() - 1);
    const std::size_t i = static_cast<std::size_t>(std::floor(pos));
    const double f = pos - static_cast<double>(i);
    return i + 1 < s.size() ? s[i] + f * (s[i + 1] - s[i]) : s[i];
}

/// Box-plot summary as matplotlib draws it: quartiles (linear interpolation), whiskers at the most extreme data
/// within 1.5 IQR of the box, points beyond the whiskers as outliers.
struct BoxStats {
    std::size_t n = 0;
    double q1 = 0, median = 0, q3 = 0, whisker_lo = 0, whisker_hi = 0, mean = 0;
    std::vector<double> outliers;
};

inline BoxStats box_stats(std::vector<double> v, double whis = 1.5) {
    BoxStats b;
    v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
    b.n = v.size();
    if (v.empty()) return b;
    std::sort(v.begin(), v.end());
    b.q1 = quantile_sorted(v, 0.25);
    b.median = quantile_sorted(v, 0.5);
    b.q3 = quantile_sorted(v, 0.75);
    double s = 0;
    for (double x : v) s += x;
    b.mean = s / static_cast<double>(v.size());
    const double iqr = b.q3 - b.q1, lo = b.q1 - whis * iqr, hi = b.q3 + whis * iqr;
    b.whisker_lo = b.q1;
    b.whisker_hi = b.q3;
    bool lo_set = false;
    for (double x : v) {
        if (x < lo || x > hi) {
            b.outliers.push_back(x);
            continue;
        }
        if (!lo_set) {
            b.whisker_lo = std::min(x, b.q1);
            lo_set = true;
        }
        b.whisker_hi = std::max(x, b.q3);
    }
    return b;
}

}  // namespace ichseg::eval
