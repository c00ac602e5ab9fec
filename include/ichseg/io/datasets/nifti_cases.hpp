/// @file nifti_cases.hpp
/// @brief What the two NIfTI layouts (PhysioNet CT-ICH, Seg-CQ500) share: the scan's check that a CT and its
/// mask have the same grid (headers only), and loading a case's CT and ICH mask.
#pragma once

#include <string>

#include "ichseg/core/error.hpp"
#include "ichseg/io/datasets/common.hpp"
#include "ichseg/io/nifti.hpp"

namespace ichseg::io::detail {

/// The CT's header; an error naming the mask when the mask's grid differs.
inline NiftiHeaderInfo read_ct_and_mask_headers(const std::string& ct, const std::string& mask,
                                                const NiftiReadOptions& opt) {
    const NiftiHeaderInfo hc = read_nifti_header(ct, opt), hm = read_nifti_header(mask, opt);
    if (hc.nx() != hm.nx() || hc.ny() != hm.ny() || hc.nz() != hm.nz())
        fail(mask, ": mask shape (", hm.nx(), ", ", hm.ny(), ", ", hm.nz(), ") does not match the CT (", hc.nx(), ", ",
             hc.ny(), ", ", hc.nz(), ")");
    return hc;
}

/// A scanned case: its id, files and grid size (from the CT header `h`).
inline CaseRef nifti_case_ref(const std::string& id, const std::string& ct, const std::string& mask,
                              const NiftiHeaderInfo& h) {
    CaseRef c;
    c.id = id;
    c.ct_path = ct;
    c.mask_path = mask;
    c.nx = h.nx();
    c.ny = h.ny();
    c.nz = h.nz();
    return c;
}

/// The case's CT and ICH mask (`mask_what` names the mask in the grid-mismatch error).
inline LoadedCase load_ct_and_mask(const CaseRef& c, const NiftiReadOptions& opt, const char* mask_what) {
    LoadedCase lc;
    lc.id = c.id;
    lc.ct = read_nifti(c.ct_path, opt);
    lc.ich = read_nifti_mask(c.mask_path, opt);
    check_same_grid(lc.ct, *lc.ich, mask_what);
    return lc;
}

}  // namespace ichseg::io::detail
