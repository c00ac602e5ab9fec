/// @file test_kfold.cpp (tests)
/// @brief Stratified k-fold properties (partition, stratification, balance, ICH in every fold, determinism,
/// seed dependence) for the paper's two datasets, and the ICH-only / Mixed slice samplers.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <vector>

#include "ichseg/core/parallel.hpp"
#include "ichseg/eval/kfold.hpp"
#include "support/errors.hpp"

using namespace ichseg;
using namespace ichseg::eval;

namespace {
/// PhysioNet CT-ICH as in the paper: 75 volumes, 36 with ICH, interleaved in some arbitrary order.
std::vector<bool> physionet_labels() {
    std::vector<bool> l(75, false);
    for (int i = 0; i < 75; ++i) l[i] = (i * 7) % 75 < 36;
    return l;
}

void check_partition(const std::vector<Fold>& folds, const std::vector<bool>& ich, int k) {
    const std::size_t n = ich.size();
    REQUIRE(folds.size() == static_cast<std::size_t>(k));
    std::vector<int> seen(n, 0);
    const int n_ich = static_cast<int>(std::count(ich.begin(), ich.end(), true));
    const int n_non = static_cast<int>(n) - n_ich;
    for (const auto& f : folds) {
        CHECK(std::is_sorted(f.test.begin(), f.test.end()));
        CHECK(std::is_sorted(f.train.begin(), f.train.end()));
        CHECK(f.train.size() + f.test.size() == n);
        std::set<int64_t> tr(f.train.begin(), f.train.end());
        int fi = 0, fn = 0;
        for (int64_t i : f.test) {
            ++seen[i];
            CHECK(tr.count(i) == 0);  // never in train and test of one fold
            (ich[i] ? fi : fn)++;
        }
        // stratification: each fold holds floor or ceil of each class's share
        CHECK(fi >= n_ich / k);
        CHECK(fi <= (n_ich + k - 1) / k);
        CHECK(fn >= n_non / k);
        CHECK(fn <= (n_non + k - 1) / k);
        CHECK(fi >= 1);  // every fold has ICH volumes
        // sizes balanced
        CHECK(f.test.size() >= n / k);
        CHECK(f.test.size() <= (n + k - 1) / k);
    }
    for (std::size_t i = 0; i < n; ++i) CHECK(seen[i] == 1);  // every volume tested exactly once
}
}  // namespace

TEST_CASE("PhysioNet 10-fold: partition, stratified, balanced, ICH in every fold", "[eval][kfold]") {
    const auto ich = physionet_labels();
    check_partition(stratified_kfold(ich, 10, 42), ich, 10);
    check_partition(stratified_kfold(ich, 10, 7), ich, 10);
}

TEST_CASE("Seg-CQ500 5-fold: 51 volumes all with ICH", "[eval][kfold]") {
    const std::vector<bool> ich(51, true);
    const auto folds = stratified_kfold(ich, 5, 42);
    check_partition(folds, ich, 5);
    std::vector<std::size_t> sizes;
    for (const auto& f : folds) sizes.push_back(f.test.size());
    std::sort(sizes.begin(), sizes.end());
    CHECK(sizes == std::vector<std::size_t>{10, 10, 10, 10, 11});
}

TEST_CASE("k-fold is a pure function of (labels, k, seed)", "[eval][kfold]") {
    const auto ich = physionet_labels();
    const auto a = stratified_kfold(ich, 10, 42);
    set_num_threads(2);
    const auto b = stratified_kfold(ich, 10, 42);
    set_num_threads(1);
    for (int f = 0; f < 10; ++f) CHECK(a[f].test == b[f].test);
    const auto c = stratified_kfold(ich, 10, 43);
    bool any_diff = false;
    for (int f = 0; f < 10; ++f) any_diff |= a[f].test != c[f].test;
    CHECK(any_diff);  // another seed, another split
    // fold_assignment inverts the test lists
    const auto fa = fold_assignment(a, ich.size());
    for (int f = 0; f < 10; ++f)
        for (int64_t i : a[f].test) CHECK(fa[i] == f);
}

TEST_CASE("k-fold rejects impossible requests with the numbers", "[eval][kfold]") {
    std::vector<bool> few(20, false);
    few[0] = few[1] = few[2] = true;
    ICHSEG_REQUIRE_ERROR(stratified_kfold(few, 5, 0), {"class 1", "only 3 volumes", "k=5"});
    ICHSEG_REQUIRE_ERROR(stratified_kfold(std::vector<bool>(3, true), 5, 0), {"3 volumes", "k=5"});
    ICHSEG_REQUIRE_ERROR(stratified_kfold(std::vector<bool>(10, true), 1, 0), {"at least 2 folds", "k=1"});
    // multi-class strata work and non-required classes may be small
    const std::vector<int> strata{0, 0, 0, 1, 1, 1, 2, 0, 1, 0};
    const auto folds = stratified_kfold(strata, 3, 5, false);
    std::size_t total = 0;
    for (const auto& f : folds) total += f.test.size();
    CHECK(total == strata.size());
}

TEST_CASE("ICH-only and Mixed slice samplers", "[eval][kfold]") {
    // 300 training slices, 40 with ICH
    std::vector<bool> s(300, false);
    for (int i = 0; i < 300; ++i) s[i] = (i * 13) % 300 < 40;
    const auto only = ich_only_slices(s);
    CHECK(only.size() == 40);
    for (int64_t i : only) CHECK(s[i]);

    const auto m0 = mixed_slices(s, 2.0, 42, 0);
    CHECK(m0.size() == 120);  // 40 ICH + 80 non-ICH
    CHECK(std::is_sorted(m0.begin(), m0.end()));
    CHECK(std::adjacent_find(m0.begin(), m0.end()) == m0.end());  // no duplicates
    int ich = 0;
    for (int64_t i : m0) ich += s[i];
    CHECK(ich == 40);  // every ICH slice is in
    // same (seed, fold) -> same subset for every method; other fold or seed -> another draw
    CHECK(mixed_slices(s, 2.0, 42, 0) == m0);
    CHECK(mixed_slices(s, 2.0, 42, 1) != m0);
    CHECK(mixed_slices(s, 2.0, 43, 0) != m0);
    // fewer normal slices than asked: all of them
    std::vector<bool> t(30, true);
    t[0] = t[1] = false;
    CHECK(mixed_slices(t, 2.0, 1, 0).size() == 30);
    // ratio 0 is ICH-only
    CHECK(mixed_slices(s, 0.0, 42, 0) == only);
    // the draw is roughly uniform: over 200 folds, every non-ICH slice is picked about 80/260 of the time
    std::vector<int> hits(300, 0);
    for (int f = 0; f < 200; ++f)
        for (int64_t i : mixed_slices(s, 2.0, 9, f)) hits[i]++;
    for (int i = 0; i < 300; ++i) {
        if (s[i]) continue;
        // Binomial(200, 0.3077): mean 61.5, sd 6.5; [30, 95] is beyond 4.8 sd on each side (p < 1e-6 per slice)
        CHECK(hits[i] >= 30);
        CHECK(hits[i] <= 95);
    }
    ICHSEG_REQUIRE_ERROR(mixed_slices(s, -1.0, 0, 0), {"ratio", "-1"});
}
