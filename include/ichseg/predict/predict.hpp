/// @file predict.hpp (predict)
/// @brief Everything of the prediction layer (docs/predict.md). segmenter.hpp and report.hpp alone need only the
/// header-only core; head_check.hpp and qc.hpp the core and render/ (qc.hpp's PNG needs zlib); input.hpp,
/// output.hpp, dicom_seg.hpp and pipeline.hpp need the I/O layer (link ichseg::io). score.hpp (the independent
/// phantom family) is not included here; `ichseg_score` includes it.
#pragma once

#include "ichseg/predict/report.hpp"
#include "ichseg/predict/segmenter.hpp"
#include "ichseg/predict/head_check.hpp"
#include "ichseg/predict/qc.hpp"
#include "ichseg/predict/input.hpp"
#include "ichseg/predict/output.hpp"
#include "ichseg/predict/dicom_seg.hpp"
#include "ichseg/predict/pipeline.hpp"
