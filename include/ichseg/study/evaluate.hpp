/// @file evaluate.hpp (study)
/// @brief Held-out evaluation (SPEC §8): predict every slice of the test volumes of a fold, threshold at 0.5,
/// sum TP / FP / FN per volume (eps = 1 metrics), with and without the intracranial-cavity mask (ICM: union of
/// the tissue- and bone-window U-Nets' thresholded predictions; predictions outside it are zeroed). Also the
/// JSON form of the per-volume records, so every fold's result is a file (the stage's "done" marker).
/// The networks run where their parameters are (nn::Module::to, Module::device); batches go there, predictions come back.
#pragma once

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "ichseg/autograd/grad_mode.hpp"
#include "ichseg/eval/metrics.hpp"
#include "ichseg/io/atomic_file.hpp"
#include "ichseg/nn/unet.hpp"
#include "ichseg/study/data.hpp"

namespace ichseg::study {

/// Sigmoid outputs of `net` for slices `idx` of a cached source (images already windowed at the input size),
/// in order, `batch` slices per forward pass; n x S x S floats (on the CPU, wherever `net` runs).
inline std::vector<float> predict_slices(nn::UNet<float>& net, const data::VolumeSlices& src,
                                         const std::vector<int64_t>& idx, int64_t batch = 16) {
    net.eval();
    NoGradGuard ng;
    const Device dev = net.device();
    std::vector<float> out;
    for (size_t b0 = 0; b0 < idx.size(); b0 += static_cast<size_t>(batch)) {
        const size_t b1 = std::min(idx.size(), b0 + static_cast<size_t>(batch));
        data::SliceSample first = src.get(idx[b0]);
        ICHSEG_CHECK(first.windowed, "predict_slices: the source must cache windowed slices");
        const int64_t H = first.image.h, W = first.image.w;
        Tensor<float> x = Tensor<float>::empty({static_cast<int64_t>(b1 - b0), 1, H, W});
        for (size_t i = b0; i < b1; ++i) {
            const data::SliceSample s = src.get(idx[i]);
            std::copy(s.image.data(), s.image.data() + H * W, x.data() + static_cast<int64_t>(i - b0) * H * W);
        }
        const Tensor<float> y = net(Var<float>(x.to(dev))).value().to(Device::cpu()).contiguous();
        out.insert(out.end(), y.data(), y.data() + y.numel());
    }
    return out;
}

/// ICM of every slice of the given cases: 1 where either ICM U-Net predicts cavity (p >= threshold).
/// Returns, per case, nz x S x S bytes.
inline std::map<int64_t, std::vector<uint8_t>> icm_masks(nn::UNet<float>& tissue_net, nn::UNet<float>& bone_net,
                                                         const LoadedVolumes& lv, const std::vector<int64_t>& cases,
                                                         double threshold) {
    std::map<int64_t, std::vector<uint8_t>> out;
    for (int64_t c : cases) {
        const std::vector<int64_t> idx = data::slices_of_cases(*lv.tissue, {c});
        const std::vector<float> pt = predict_slices(tissue_net, *lv.tissue, idx);
        const std::vector<float> pb = predict_slices(bone_net, *lv.bone, idx);
        std::vector<uint8_t> m(pt.size());
        for (size_t i = 0; i < m.size(); ++i) m[i] = (pt[i] >= threshold || pb[i] >= threshold) ? 1 : 0;
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
        const std::vector<float> p = predict_slices(net, *lv.seg, idx);
        eval::VolumeAccumulator plain(lv.seg->case_id(c), fold, threshold), masked(lv.seg->case_id(c), fold, threshold);
        const uint8_t* cav = nullptr;
        if (icm) {
            auto it = icm->find(c);
            ICHSEG_CHECK(it != icm->end() && it->second.size() == p.size(), "evaluate_fold: no ICM for case ",
                         lv.seg->case_id(c));
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
            plain.add_slice(p.data() + off, mask, n, static_cast<const uint8_t*>(nullptr));
            if (cav) masked.add_slice(p.data() + off, mask, n, cav + off);
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

// ---- JSON of per-volume records --------------------------------------------------------------------------------

inline nlohmann::json volumes_json(const std::vector<eval::VolumeResult>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& r : v)
        a.push_back({{"case_id", r.case_id}, {"fold", r.fold}, {"has_ich", r.has_ich}, {"subtypes", r.subtypes},
                     {"n_slices", r.n_slices}, {"tp", r.counts.tp}, {"fp", r.counts.fp}, {"fn", r.counts.fn},
                     {"tn", r.counts.tn}});
    return a;
}

inline std::vector<eval::VolumeResult> volumes_from_json(const nlohmann::json& a, const std::string& where) {
    ICHSEG_CHECK(a.is_array(), where, ": expected an array of volume records");
    std::vector<eval::VolumeResult> out;
    try {
        for (const auto& j : a) {
            eval::VolumeResult r;
            r.case_id = j.at("case_id").get<std::string>();
            r.fold = j.at("fold").get<int>();
            r.has_ich = j.at("has_ich").get<bool>();
            r.subtypes = j.at("subtypes").get<uint32_t>();
            r.n_slices = j.at("n_slices").get<int64_t>();
            r.counts.tp = j.at("tp").get<int64_t>();
            r.counts.fp = j.at("fp").get<int64_t>();
            r.counts.fn = j.at("fn").get<int64_t>();
            r.counts.tn = j.at("tn").get<int64_t>();
            out.push_back(r);
        }
    } catch (const nlohmann::json::exception& e) {
        fail(where, ": malformed volume record: ", e.what());
    }
    return out;
}

inline nlohmann::json read_json_file(const std::string& path) {
    std::ifstream f(path);
    ICHSEG_CHECK(f.good(), path, ": cannot open");
    try {
        return nlohmann::json::parse(f);
    } catch (const nlohmann::json::exception& e) {
        fail(path, ": not valid JSON: ", e.what());
    }
}

}  // namespace ichseg::study
