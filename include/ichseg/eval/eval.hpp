/// @file eval.hpp
/// @brief Umbrella header of the evaluation layer: volume metrics, k-fold splits and slice samplers, Welch
/// t-tests and box-plot summaries, t-SNE, the paper's figures (Figures 3–5, drawn with render/) and result files
/// (CSV, summary.json, Table 3). Figures need zlib: link ZLIB::ZLIB in targets that include this header (or
/// include the parts without figures.hpp).
#pragma once

#include "ichseg/eval/figures.hpp"
#include "ichseg/eval/kfold.hpp"
#include "ichseg/eval/metrics.hpp"
#include "ichseg/eval/report.hpp"
#include "ichseg/eval/stats.hpp"
#include "ichseg/eval/tsne.hpp"
