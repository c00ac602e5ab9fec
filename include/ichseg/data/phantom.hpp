/// @file phantom.hpp
/// @brief Synthetic head-CT phantoms with ground truth: a CT volume in HU, the ICH mask, the intracranial-cavity
/// ("brain") mask, a per-voxel subtype map and slice / volume labels that are derived from the masks (so they
/// always agree). Used by the tests, the demo and the study's quick reproduction; data/phantom_layouts.hpp writes
/// phantoms in the four real dataset layouts. No file I/O.
///
/// The head is an analytic model in patient coordinates (mm, RAS: x right, y anterior, z superior; z = 0 near the
/// third ventricle), evaluated at several sub-samples per voxel (through-plane always, in-plane when voxels are
/// coarse) and averaged (partial volume), then blurred in-plane (scanner PSF) and given spatially correlated noise.
/// The generator's parts, one file each under data/phantom/, in the order a case is drawn:
///  * params.hpp: `PhantomParams` (what is asked for) and `Phantom` (what comes out);
///  * anatomy.hpp: the head: ellipsoidal with per-case size / shape; skin, subcutaneous fat and temporalis muscle;
///    skull with outer table, diploe and inner table (thinner temporal squama); cranial fossae floors, petrous
///    ridges, orbits with globes, ethmoid / sphenoid / frontal sinus air and mastoid air cells in the lowest slices;
///    subarachnoid CSF rim, gyri and sulci, grey / white matter, basal ganglia and thalami, Sylvian fissures, basal
///    cisterns, midbrain / pons, cerebellum with folia, lateral / third / fourth ventricles, atrophy;
///  * mimics.hpp (when `mimics`): falx cerebri and tentorium (dense dura), superior sagittal, straight and
///    transverse sinuses (45-75 HU, blood density), pineal / choroid plexus / basal ganglia / falx calcifications,
///    beam hardening (a brighter band inside the inner table, dark and bright streaks between the petrous bones),
///    a patient couch;
///  * acquisition.hpp: field of view (pixel spacing), head size and position, yaw / pitch / roll, slice count and
///    spacing (fixed or drawn from 2.5-5 mm), optional gantry tilt (a sheared affine; a standard axial DICOM
///    acquisition converted to RAS: column index towards patient left, row index towards posterior, so row 0 is
///    anterior); with `artefacts`: head motion between slices and during a slice (ghost, streaks), tube voltage
///    and calibration offset; PSF blur and correlated noise scaled by slice thickness and attenuation;
///  * lesions.hpp: the five ICH subtypes (IchSubtype) with their typical shapes, locations and HU (EDH lens with
///    fracture / swirl, SDH crescent acute / subacute / chronic, SAH in sulci / fissure / cisterns, IPH with oedema
///    rim, IVH layering or cast; acute blood 50-90 HU);
///  * labels.hpp: slice and volume labels from the masks;
///  * generate.hpp: the draw order, the partial-volume sampling and `generate_phantom`;
///  * common.hpp: vector maths, the smooth random field, tissue classes.
/// Everything is a pure function of (params, seed).
#pragma once

#include "ichseg/data/phantom/generate.hpp"
#include "ichseg/data/phantom/params.hpp"
