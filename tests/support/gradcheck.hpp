/// @file gradcheck.hpp (tests)
/// @brief Finite-difference gradient check in double precision.
///
/// For a function f of some input variables, the scalar probe is L = sum(f(x) * w) with fixed random weights
/// w, so every output element contributes. The analytic dL/dx from backward() is compared with the central
/// difference (L(x + h e_i) - L(x - h e_i)) / 2h for every element (or a strided sample of large inputs).
/// With h = 1e-6 in double the truncation error is O(h^2 f''') ~ 1e-12 and the rounding error ~1e-16 / h
/// ~ 1e-10, so |analytic - numeric| <= 1e-6 (1 + |numeric|) fails only on a wrong derivative. Inputs must keep
/// away from kinks (ReLU at 0, max-pool ties) by construction.
#pragma once

#include <catch2/catch.hpp>

#include <functional>
#include <vector>

#include "ichseg/autograd/variable.hpp"
#include "ichseg/ops/arithmetic.hpp"
#include "support/fill.hpp"

namespace ichseg::test {

struct GradcheckOptions {
    double h = 1e-6;
    double tol = 1e-6;
    int64_t max_checks_per_input = 400;  ///< larger inputs are sampled with a stride
};

/// f maps the inputs to any-shape output. Inputs are double tensors; each gets requires_grad.
inline void gradcheck(const std::function<Var<double>(const std::vector<Var<double>>&)>& f,
                      std::vector<Tensor<double>> inputs, GradcheckOptions opt = {}) {
    std::vector<Var<double>> vars;
    for (auto& t : inputs) vars.emplace_back(t, true);
    Var<double> y = f(vars);
    const Tensor<double> w = uniform<double>(y.shape(), 4242, 0.5, 1.5);
    auto probe = [&](const std::vector<Var<double>>& in) {
        NoGradGuard g;
        Tensor<double> out = f(in).value().contiguous();
        double s = 0;
        for (int64_t i = 0; i < out.numel(); ++i) s += out.data()[i] * w.data()[i];
        return s;
    };
    y.backward(w.clone());
    for (size_t k = 0; k < vars.size(); ++k) {
        const Tensor<double> g = vars[k].grad();
        REQUIRE(g.defined());
        Tensor<double>& x = vars[k].mutable_value();
        const int64_t n = x.numel();
        const int64_t stride = std::max<int64_t>(1, n / opt.max_checks_per_input);
        for (int64_t i = 0; i < n; i += stride) {
            const double orig = x.data()[i];
            x.data()[i] = orig + opt.h;
            const double lp = probe(vars);
            x.data()[i] = orig - opt.h;
            const double lm = probe(vars);
            x.data()[i] = orig;
            const double num = (lp - lm) / (2 * opt.h), ana = g.data()[i];
            INFO("input " << k << " element " << i << ": analytic " << ana << " numeric " << num);
            REQUIRE(std::abs(ana - num) <= opt.tol * (1 + std::abs(num)));
        }
    }
}

}  // namespace ichseg::test
