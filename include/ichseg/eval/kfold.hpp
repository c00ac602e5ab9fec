/// @file kfold.hpp
/// @brief Volume-level stratified k-fold cross-validation (SPEC §8: 10 folds PhysioNet, 5 folds Seg-CQ500,
/// stratified on "volume contains ICH", every fold gets ICH volumes) and the training-slice samplers of the two
/// baselines (SPEC §7): ICH-only, and Mixed = all ICH slices + twice as many non-ICH slices drawn once per fold
/// with a fixed seed, so every method trained in that fold sees the same subset.
///
/// Everything here is a pure function of its inputs and the seed (Philox counter-based draws, core/rng.hpp):
/// the same call gives the same folds on any machine, compiler or thread count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/core/rng.hpp"

namespace ichseg::eval {

namespace detail {
/// Stream numbers reserved for this header's draws (distinct from each other; arbitrary constants).
inline constexpr uint64_t kKFoldStream = 0x6b666f6c64000000ull;   // "kfold"
inline constexpr uint64_t kMixedStream = 0x6d69786564000000ull;   // "mixed"

/// Uniform integer in [0, bound) from the index-th draw of a stream (64 random bits, multiply-shift: bias
/// below 2^-32 for bound < 2^32, irrelevant here and deterministic).
inline uint64_t uniform_below(uint64_t seed, uint64_t stream, uint64_t index, uint64_t bound) {
    const uint64_t hi = random_u32(seed, stream, 2 * index), lo = random_u32(seed, stream, 2 * index + 1);
    const uint64_t r = (hi << 32) | lo;
    return static_cast<uint64_t>((static_cast<unsigned __int128>(r) * bound) >> 64);
}

/// Fisher–Yates shuffle driven by (seed, stream).
template <class T>
void shuffle(std::vector<T>& v, uint64_t seed, uint64_t stream) {
    for (std::size_t i = v.size(); i > 1; --i) {
        const std::size_t j = static_cast<std::size_t>(uniform_below(seed, stream, v.size() - i, i));
        std::swap(v[i - 1], v[j]);
    }
}
}  // namespace detail

/// One cross-validation fold: indices (into the caller's volume list) of its training and test volumes,
/// both ascending.
struct Fold {
    std::vector<int64_t> train, test;
};

/// Stratified k-fold split. `strata[i]` is volume i's class (for the paper: 1 = contains ICH, 0 = not).
/// Within each class the volumes are shuffled (seeded) and dealt round-robin to the folds, continuing the deal
/// from class to class, so each fold gets floor or ceil of each class's share and fold sizes differ by at most 1.
/// Every fold has at least one volume of every class that has >= k volumes; `require_all_classes` (default)
/// turns a class with fewer than k volumes into an error (a fold without ICH volumes could not be evaluated on
/// ICH volumes).
inline std::vector<Fold> stratified_kfold(const std::vector<int>& strata, int k, uint64_t seed,
                                          bool require_all_classes = true) {
    ICHSEG_CHECK(k >= 2, "stratified_kfold: need at least 2 folds, got k=", k);
    ICHSEG_CHECK(static_cast<int64_t>(strata.size()) >= k, "stratified_kfold: ", strata.size(),
                 " volumes cannot fill k=", k, " folds");
    std::map<int, std::vector<int64_t>> by_class;  // ascending class order: deterministic
    for (std::size_t i = 0; i < strata.size(); ++i) by_class[strata[i]].push_back(static_cast<int64_t>(i));
    std::vector<int> fold_of(strata.size(), -1);
    int64_t dealt = 0;
    for (auto& [cls, idx] : by_class) {
        if (require_all_classes)
            ICHSEG_CHECK(static_cast<int64_t>(idx.size()) >= k, "stratified_kfold: class ", cls, " has only ",
                         idx.size(), " volumes, fewer than k=", k, " folds, so some fold would have none");
        detail::shuffle(idx, seed, detail::kKFoldStream + static_cast<uint64_t>(static_cast<uint32_t>(cls)));
        for (int64_t v : idx) fold_of[static_cast<std::size_t>(v)] = static_cast<int>(dealt++ % k);
    }
    std::vector<Fold> folds(static_cast<std::size_t>(k));
    for (std::size_t i = 0; i < strata.size(); ++i)
        for (int f = 0; f < k; ++f)
            (fold_of[i] == f ? folds[f].test : folds[f].train).push_back(static_cast<int64_t>(i));
    return folds;
}

/// Stratified k-fold on a has-ICH flag per volume (the paper's split).
inline std::vector<Fold> stratified_kfold(const std::vector<bool>& has_ich, int k, uint64_t seed) {
    std::vector<int> s(has_ich.size());
    for (std::size_t i = 0; i < has_ich.size(); ++i) s[i] = has_ich[i] ? 1 : 0;
    return stratified_kfold(s, k, seed);
}

/// The fold number of each volume (inverse of the folds' test lists).
inline std::vector<int> fold_assignment(const std::vector<Fold>& folds, std::size_t n_volumes) {
    std::vector<int> f(n_volumes, -1);
    for (std::size_t k = 0; k < folds.size(); ++k)
        for (int64_t i : folds[k].test) {
            ICHSEG_CHECK(i >= 0 && static_cast<std::size_t>(i) < n_volumes, "fold_assignment: volume index ", i,
                         " of fold ", k, " outside [0, ", n_volumes, ")");
            ICHSEG_CHECK(f[static_cast<std::size_t>(i)] < 0, "fold_assignment: volume ", i,
                         " is in the test set of folds ", f[static_cast<std::size_t>(i)], " and ", k);
            f[static_cast<std::size_t>(i)] = static_cast<int>(k);
        }
    return f;
}

// ---- training-slice samplers (SPEC §7) -------------------------------------------------------------------------

/// Indices of the slices that contain ICH (the ICH-only baseline's training set), ascending.
inline std::vector<int64_t> ich_only_slices(const std::vector<bool>& slice_has_ich) {
    std::vector<int64_t> out;
    for (std::size_t i = 0; i < slice_has_ich.size(); ++i)
        if (slice_has_ich[i]) out.push_back(static_cast<int64_t>(i));
    return out;
}

/// The Mixed recipe's training slices: every ICH slice plus round(ratio × #ICH) non-ICH slices (all of them if
/// fewer exist) drawn without replacement, as a pure function of (slice list, ratio, seed, fold). Call it with
/// the fold's training slices in a canonical order (e.g. volume id, then slice number) and the same seed for
/// every method: they then all train on the same subset. Returns ascending indices into `slice_has_ich`.
inline std::vector<int64_t> mixed_slices(const std::vector<bool>& slice_has_ich, double ratio, uint64_t seed,
                                         int fold) {
    ICHSEG_CHECK(ratio >= 0 && std::isfinite(ratio), "mixed_slices: non-ICH ratio must be >= 0, got ", ratio);
    ICHSEG_CHECK(fold >= 0, "mixed_slices: fold must be >= 0, got ", fold);
    std::vector<int64_t> ich, non;
    for (std::size_t i = 0; i < slice_has_ich.size(); ++i)
        (slice_has_ich[i] ? ich : non).push_back(static_cast<int64_t>(i));
    const auto want = static_cast<std::size_t>(std::llround(ratio * static_cast<double>(ich.size())));
    const std::size_t take = std::min(want, non.size());
    // Partial Fisher–Yates: the first `take` positions become a uniform sample without replacement.
    const uint64_t stream = detail::kMixedStream + static_cast<uint64_t>(fold);
    for (std::size_t i = 0; i < take; ++i) {
        const std::size_t j = i + static_cast<std::size_t>(detail::uniform_below(seed, stream, i, non.size() - i));
        std::swap(non[i], non[j]);
    }
    std::vector<int64_t> out = ich;
    out.insert(out.end(), non.begin(), non.begin() + static_cast<std::ptrdiff_t>(take));
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace ichseg::eval
