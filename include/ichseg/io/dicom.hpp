/// @file dicom.hpp
/// @brief DICOM CT through DCMTK (target ichseg::io), all of it: include this, or only the part you need.
///  * dicom/dcmtk.hpp  -- the DCMTK layer: setup, codec registration, loading files, typed attribute getters,
///                        which transfer syntaxes have no decoder;
///  * dicom/jpeg2000.hpp -- JPEG 2000 (.90, .91) through OpenJPEG, as a DCMTK decoder codec (and the encoder);
///  * dicom/slice.hpp  -- one image: `DicomHeader`, `read_dicom_header`, `read_dicom_slice` (HU), checks;
///  * dicom/series.hpp -- a folder: `scan_dicom_folder`, `DicomSeries` (grouped, ordered, geometry-checked),
///                        `read_dicom_series` (an io::Volume with its affine);
///  * dicom/writer.hpp -- `write_dicom_slice` (fixtures, phantoms) and `make_dicom_uid`.
/// docs/data.md §2.2 describes what is read, how and what is refused.
#pragma once

#include "ichseg/io/dicom/dcmtk.hpp"
#include "ichseg/io/dicom/series.hpp"
#include "ichseg/io/dicom/slice.hpp"
#include "ichseg/io/dicom/writer.hpp"
