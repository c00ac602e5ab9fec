/// @file tolerance.hpp (tests)
/// @brief The one comparison of the test suite: |actual - expected| <= atol + rtol * |expected| per element,
/// reporting the first mismatches with index and both values. Every call site states why its tolerance holds.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "ichseg/core/tensor.hpp"

namespace ichseg::test {

/// Tolerance for float32 results of sums of n products of O(1) values: a few ulp per accumulation step.
inline double fp32_sum_rtol(int64_t n) { return 4.0 * 1.2e-7 * std::sqrt(static_cast<double>(std::max<int64_t>(n, 1))); }

template <class A, class B>
bool allclose(const std::vector<A>& actual, const std::vector<B>& expected, double atol, double rtol,
              std::string* report = nullptr) {
    if (actual.size() != expected.size()) {
        if (report) *report = "size " + std::to_string(actual.size()) + " vs " + std::to_string(expected.size());
        return false;
    }
    std::ostringstream os;
    int bad = 0;
    double worst = 0;
    for (size_t i = 0; i < actual.size(); ++i) {
        const double a = static_cast<double>(actual[i]), e = static_cast<double>(expected[i]);
        const double err = std::abs(a - e), lim = atol + rtol * std::abs(e);
        if (!(err <= lim)) {
            if (bad < 8) os << "  [" << i << "] actual " << a << " expected " << e << " (|diff| " << err << " > " << lim << ")\n";
            ++bad;
        }
        if (err > worst) worst = err;
    }
    if (std::getenv("ICHSEG_TEST_PRINT_TOLERANCE")) {  // margin audit: how close each check came to its limit
        double ratio = 0;
        for (size_t i = 0; i < actual.size(); ++i) {
            const double e = static_cast<double>(expected[i]);
            const double lim = atol + rtol * std::abs(e), err = std::abs(static_cast<double>(actual[i]) - e);
            ratio = std::max(ratio, lim > 0 ? err / lim : (err > 0 ? INFINITY : 0.0));
        }
        std::printf("[tolerance] %zu elements, max |diff| %.3g, worst |diff|/limit %.3g (atol %.3g, rtol %.3g)\n",
                    actual.size(), worst, ratio, atol, rtol);
    }
    if (report) {
        std::ostringstream head;
        head << bad << " of " << actual.size() << " elements out of tolerance (atol " << atol << ", rtol " << rtol
             << "), max |diff| " << worst << "\n";
        *report = head.str() + os.str();
    }
    return bad == 0;
}

}  // namespace ichseg::test

/// REQUIRE that two tensors (or vectors) agree element-wise within atol + rtol * |expected|.
#define ICHSEG_REQUIRE_CLOSE(actual, expected, atol, rtol)                                                   \
    do {                                                                                                     \
        std::string ichseg_report_;                                                                          \
        const bool ichseg_ok_ = ::ichseg::test::allclose(::ichseg::test::values(actual),                     \
                                                         ::ichseg::test::values(expected), atol, rtol,       \
                                                         &ichseg_report_);                                   \
        INFO(#actual " vs " #expected ": " << ichseg_report_);                                               \
        REQUIRE(ichseg_ok_);                                                                                 \
    } while (0)

namespace ichseg::test {
template <class T>
std::vector<T> values(const Tensor<T>& t) {
    return t.to_vector();
}
template <class T>
const std::vector<T>& values(const std::vector<T>& v) {
    return v;
}

/// Largest |element| (at least 1e-300), the scale for absolute tolerances of outputs whose elements may cancel.
template <class T>
double max_abs(const Tensor<T>& t) {
    double m = 1e-300;
    for (T v : t.to_vector()) m = std::max(m, std::abs(static_cast<double>(v)));
    return m;
}

/// Machine epsilon of float (2^-23) and double (2^-52).
constexpr double kEpsF = 1.1920928955078125e-7;
constexpr double kEpsD = 2.220446049250313e-16;
}  // namespace ichseg::test

/// REQUIRE |actual - expected| <= rel * (max|expected| + |expected|) element-wise: a relative tolerance measured
/// against the scale of the whole tensor, for results that are sums with cancellation (an element near 0 is
/// still computed from O(max) terms, so its rounding error is O(eps * max), not O(eps * |element|)).
#define ICHSEG_REQUIRE_CLOSE_SCALED(actual, expected, rel)                                                    \
    ICHSEG_REQUIRE_CLOSE(actual, expected, (rel) * ::ichseg::test::max_abs(expected), (rel))

/// REQUIRE bitwise equality of two tensors' values (shape checked too).
#define ICHSEG_REQUIRE_EQUAL(actual, expected)                                                                \
    do {                                                                                                      \
        REQUIRE((actual).shape() == (expected).shape());                                                      \
        ICHSEG_REQUIRE_CLOSE(actual, expected, 0.0, 0.0);                                                     \
    } while (0)
