/// @file evaluate.hpp (study)
/// @brief Held-out evaluation (SPEC §8): predict every slice of the test volumes of a fold, threshold at 0.5,
/// sum TP / FP / FN per volume (eps = 1 metrics), with and without the intracranial-cavity mask (ICM: union of
/// the tissue- and bone-window U-Nets' thresholded predictions; predictions outside it are zeroed). Batched
/// inference and the ICM rule are the Segmenter's (predict/inference.hpp). The networks run where their
/// parameters are (nn::Module::to, Module::device); batches go there, predictions come back.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ichseg/eval/metrics.hpp"
#include "ichseg/nn/unet.hpp"
#include "ichseg/predict/inference.hpp"
#include "ichseg/study/data.hpp"

namespace ichseg::study {

/// Sigmoid outputs of `net` for slices `idx` of a cached source (images already windowed at the input size),
/// in order, `batch` slices per forward pass (predict/inference.hpp, the Segmenter's batched inference), on the
/// device of `net`'s parameters; (n, S, S) on the CPU.
inline Tensor<float> predict_slices(nn::UNet<float>& net, const data::VolumeSlices& src,
                                    const std::vector<int64_t>& idx, int64_t batch = 16) {
    const int64_t n = static_cast<int64_t>(idx.size());
    if (n == 0) return Tensor<float>::empty({0, 1, 1});
    const data::SliceSample first = src.get(idx[0]);
    ICHSEG_CHECK(first.windowed, "predict_slices: the source must cache windowed slices");
    const int64_t H = first.image.h, W = first.image.w;
    auto fill = [&](int64_t i, float* dst) {
        const data::SliceSample s = src.get(idx[static_cast<size_t>(i)]);
        ICHSEG_CHECK(s.image.h == H && s.image.w == W, "predict_slices: slice ", idx[static_cast<size_t>(i)], " is ",
                     s.image.h, " x ", s.image.w, ", the first one ", H, " x ", W);
        std::copy(s.image.data(), s.image.data() + H * W, dst);
    };
    return predict::batched_probabilities(net, net.device(), n, H, W, batch, fill);
}

/// ICM of every slice of the given cases (the ICM rule of predict/inference.hpp: 1 where either ICM U-Net
/// predicts cavity). Returns, per case, nz x S x S bytes.
inline std::map<int64_t, std::vector<uint8_t>> icm_masks(nn::UNet<float>& tissue_net, nn::UNet<float>& bone_net,
                                                         const LoadedVolumes& lv, const std::vector<int64_t>& cases,
                                                         double threshold) {
    std::map<int64_t, std::vector<uint8_t>> out;
    for (int64_t c : cases) {
        const std::vector<int64_t> idx = data::slices_of_cases(*lv.tissue, {c});
        const Tensor<float> pt = predict_slices(tissue_net, *lv.tissue, idx);
        const Tensor<float> pb = predict_slices(bone_net, *lv.bone, idx);
        ICHSEG_CHECK(pt.numel() == pb.numel(), "icm_masks: the tissue and bone caches of case ", lv.tissue->case_id(c),
                     " differ in size");
        std::vector<uint8_t> m(static_cast<size_t>(pt.numel()));
        predict::cavity_mask(pt.data(), pb.data(), pt.numel(), threshold, m.data());
        out[c] = std::move(m);
    }
    return out;
}

/// Per-volume results of `net` on the test cases: [0] without ICM, [1] with the ICM (when `icm` is given).
struct FoldEvaluation {
    std::vector<eval::VolumeResult> plain, with_icm;
};

inline FoldEvaluation evaluate_fold(nn::UNet<float>& net, const LoadedVolumes& lv, const std::vector<int64_t>& cases,
                                    int fold, double threshold, const std::map<int64_t, std::vector<uint8_t>>* icm) {
    FoldEvaluation r;
    for (int64_t c : cases) {
        const std::vector<int64_t> idx = data::slices_of_cases(*lv.seg, {c});
        const Tensor<float> prob = predict_slices(net, *lv.seg, idx);
        const float* p = prob.data();
        eval::VolumeAccumulator plain(lv.seg->case_id(c), fold, threshold), masked(lv.seg->case_id(c), fold, threshold);
        const uint8_t* cav = nullptr;
        if (icm) {
            auto it = icm->find(c);
            ICHSEG_CHECK(it != icm->end() && static_cast<int64_t>(it->second.size()) == prob.numel(),
                         "evaluate_fold: no ICM for case ", lv.seg->case_id(c));
            cav = it->second.data();
        }
        int64_t off = 0;
        for (int64_t i : idx) {
            const data::SliceSample s = lv.seg->get(i);
            const size_t n = static_cast<size_t>(s.image.h * s.image.w);
            std::vector<uint8_t> empty;
            const uint8_t* mask = s.mask.empty() ? nullptr : s.mask.data();
            if (!mask) {
                empty.assign(n, 0);
                mask = empty.data();
            }
            plain.add_slice(p + off, mask, n, static_cast<const uint8_t*>(nullptr));
            if (cav) masked.add_slice(p + off, mask, n, cav + off);
            off += static_cast<int64_t>(n);
        }
        for (auto* acc : {&plain, &masked}) {
            acc->set_has_ich(lv.has_ich[static_cast<size_t>(c)]);
            acc->set_subtypes(lv.subtypes[static_cast<size_t>(c)]);
        }
        r.plain.push_back(plain.finish());
        if (cav) r.with_icm.push_back(masked.finish());
    }
    return r;
}

}  // namespace ichseg::study
