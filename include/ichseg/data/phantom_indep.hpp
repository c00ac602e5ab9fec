/// @file phantom_indep.hpp
/// @brief The independent phantom family ("family B"): head CT phantoms with ground truth from a second
/// generator written separately from data/phantom.hpp (its own head outline, anatomy, lesion shapes and a
/// projection-domain scanner; see the files under data/phantom_indep/). It exists to score models on data their
/// training never saw (predict/score.hpp, `ichseg_score`) and must never be used for training or for choosing
/// settings: docs/design.md lists it under "never includes" for the training, evaluation and study layers.
///  * case.hpp: `IndepParams`, `IndepCase`, shared maths (vectors, rotations, value and cellular noise);
///  * head.hpp: the head (`IndepHead`) as materials (water-equivalent density, bone fraction, class);
///  * bleed.hpp: the five hemorrhage kinds (`Bleed`);
///  * scanner.hpp: polychromatic projections, quantum noise, beam-hardening correction, filtered back-projection;
///  * generate.hpp: `generate_indep_phantom(params, seed)`.
#pragma once

#include "ichseg/data/phantom_indep/case.hpp"
#include "ichseg/data/phantom_indep/generate.hpp"
