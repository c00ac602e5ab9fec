"""DICOM series -> volume: ichseg's affine and voxel order against dcm2niix's NIfTI output.

Series are written with pydicom (random int16 values per slice, so any mix-up of rows, columns or slices shows;
32 rows x 40 columns, PixelSpacing 0.7 \\ 0.5 mm, shuffled file names): axial, oblique (rotated 20 deg about z and
15 deg about x), gantry tilt (12 deg, GantryDetectorTilt set, positions advancing along z), non-uniform spacing
(one 3.0 mm step among 2.5 mm), a missing slice, and a mixed folder (two CT series of different orientation and
size, a localizer inside one of them, an MR series).

For each, M = inverse(dcm2niix affine) @ ichseg affine maps ichseg voxel indices to dcm2niix's. Expected, and
checked exactly (1e-4, the float32 storage of NIfTI):
  * M is dcm2niix's row flip (i, j, k) -> (i, rows - 1 - j, k): dcm2niix writes rows bottom-up, ichseg keeps the
    stored order (docs/data.md). Every voxel value is then equal.
  * gantry tilt: ichseg's slice axis is the real step between ImagePositionPatient values (a sheared affine, as
    dicom2nifti without resampling). dcm2niix's uncorrected volume has its slice axis along the same direction but
    as long as the spacing along the normal (2.5 cos 12 deg = 2.445 mm instead of 2.5 mm), so its slices sit 2 %
    too close; it writes a resampled "_Tilt_1" copy for that. The in-plane part and the voxels are equal.
  * uneven spacing / missing slice: ichseg refuses both by default (the message is checked). Accepted with
    allow_uneven_spacing / allow_missing_slices: dcm2niix's raw volume takes the first step, ichseg the mean step
    from first to last slice (equal when a slice is missing), voxels equal; dcm2niix's gap-filled "_Eq_1" volume
    holds ichseg's slices at their real positions.
Exit 77 (Skipped) without numpy, pydicom, nibabel or dcm2niix.   Usage: dicom_series_dcm2niix_test.py IO_PEER_TOOL"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlib  # noqa: E402

np, pydicom, nib = peerlib.need("numpy", "pydicom", "nibabel")
DCM2NIIX = shutil.which("dcm2niix")
if not DCM2NIIX:
    print("dcm2niix not found (pip install dcm2niix): skipped")
    sys.exit(peerlib.SKIP)

TOOL = sys.argv[1]
R, C, NZ = 32, 40, 8
TOL = 1e-4
rng = np.random.RandomState(2024)
report = []


def rot(axis, deg):
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    return {"x": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]), "y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
            "z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])}[axis]


def write_series(folder, orient=np.eye(3), steps=None, tilt=None, drop=None, rows=R, cols=C, modality="CT",
                 localizer_at=None):
    """Returns the SeriesInstanceUID. Positions advance along the normal, or along z for a gantry tilt."""
    os.makedirs(folder, exist_ok=True)
    steps = steps or [2.5] * (NZ - 1)
    row, col = orient @ np.array([1.0, 0, 0]), orient @ np.array([0, 1.0, 0])
    normal = np.cross(row, col)
    study, series, fref = peerlib.new_uid(), peerlib.new_uid(), peerlib.new_uid()
    p0, z = np.array([-10.0, -8.0, -20.0]), 0.0
    for k in range(len(steps) + 1):
        if k > 0:
            z += steps[k - 1]
        pos = p0 + (np.array([0, 0, z]) if tilt is not None else z * normal)
        if k == drop:
            continue
        v = rng.randint(-1000, 2000, size=(rows, cols))
        ds = peerlib.ct_dataset(v, modality=modality, study=study, series=series, frame_of_reference=fref,
                                position=tuple(pos), orientation=tuple(row) + tuple(col), spacing=(0.7, 0.5),
                                thickness=2.5, instance=k + 1)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        if tilt is not None:
            ds.GantryDetectorTilt = tilt
        ds.save_as(os.path.join(folder, f"{series[-6:]}_{(k * 5) % 11:02d}_{k}.dcm"), enforce_file_format=True)
    if localizer_at is not None:  # a scout image inside the series: other orientation, ImageType LOCALIZER
        v = rng.randint(-1000, 2000, size=(rows, cols))
        ds = peerlib.ct_dataset(v, study=study, series=series, frame_of_reference=fref, position=(0.0, -50.0, 0.0),
                                orientation=(1, 0, 0, 0, 0, -1), spacing=(1.0, 1.0), instance=99)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
        ds.save_as(os.path.join(folder, "localizer.dcm"), enforce_file_format=True)
    return series


def ichseg(folder, tmp, *flags):
    info, _ = peerlib.tool(TOOL, "series", folder, os.path.join(tmp, "ich"), *flags)
    return info


def volume(entry):
    nx, ny, nz = entry["shape"]
    return np.array(entry["affine"]), peerlib.read_f32(entry["voxels"], (nz, ny, nx)).astype(np.float64)


def dcm2niix(folder, out):
    os.makedirs(out, exist_ok=True)
    r = subprocess.run([DCM2NIIX, "-f", "%j", "-z", "n", "-o", out, folder], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    files = {}
    for f in glob.glob(os.path.join(out, "*.nii")):
        img = nib.load(f)
        files[os.path.basename(f)[:-4]] = (img.affine, np.asarray(img.dataobj).astype(np.float64))
    return files


FLIP = np.array([[1, 0, 0, 0], [0, -1, 0, R - 1], [0, 0, 1, 0], [0, 0, 0, 1]], float)


def check_flip(label, Ai, I, Ad, D, rows=R, slice_column=True):
    """M = inv(Ad) Ai must be the row flip (all columns, or the in-plane ones), and D[i, rows-1-j, k] == I[k, j, i]."""
    flip = FLIP.copy()
    flip[1, 3] = rows - 1
    M = np.linalg.inv(Ad) @ Ai
    cols = [0, 1, 2, 3] if slice_column else [0, 1, 3]
    err = float(np.abs(M[:, cols] - flip[:, cols]).max())
    assert err < TOL, f"{label}: inv(dcm2niix) @ ichseg =\n{M}\nexpected the row flip\n{flip}"
    assert D.shape == I.shape[::-1], (label, D.shape, I.shape)
    mapped = D[:, ::-1, :].transpose(2, 1, 0)  # dcm2niix [i, rows-1-j, k] -> ichseg order [k, j, i]
    bad = int((mapped != I).sum())
    assert bad == 0, f"{label}: {bad} voxels differ"
    report.append(f"{label}: affine = dcm2niix's up to its row flip (max err {err:.1e}), {I.size} voxels equal")


def one(tmp, name, **kw):
    folder = os.path.join(tmp, name)
    uid = write_series(folder, **kw)
    return folder, uid, dcm2niix(folder, os.path.join(tmp, "out_" + name))


def main():
    with tempfile.TemporaryDirectory(prefix="ichseg-dcm2niix-") as tmp:
        # axial and oblique
        for name, orient in [("axial", np.eye(3)), ("oblique", rot("z", 20) @ rot("x", 15))]:
            folder, uid, d = one(tmp, name, orient=orient)
            (entry,) = ichseg(folder, tmp)
            Ai, I = volume(entry)
            check_flip(name, Ai, I, *d[uid])
        # gantry tilt
        folder, uid, d = one(tmp, "tilt", orient=rot("x", 12), tilt=12.0)
        (entry,) = ichseg(folder, tmp)
        Ai, I = volume(entry)
        Ad, D = d[uid]
        check_flip("gantry tilt (in-plane)", Ai, I, Ad, D, slice_column=False)
        assert uid + "_Tilt_1" in d, "dcm2niix wrote no tilt-corrected copy"
        step_ras = np.array([0, 0, 2.5])  # positions advance 2.5 mm along z (LPS z = RAS z)
        assert np.abs(Ai[:3, 2] - step_ras).max() < TOL, Ai  # ichseg: the real step, a sheared affine
        n = np.cross(Ai[:3, 0], Ai[:3, 1])
        n /= np.linalg.norm(n)
        k = Ai[:3, 2]
        shrunk = (k @ n) * k / np.linalg.norm(k)  # the real step direction, scaled to the spacing along the normal
        assert np.abs(Ad[:3, 2] - shrunk).max() < TOL, (Ad, shrunk)
        report.append(f"gantry tilt: ichseg's slice column is the real step (2.5 mm along z, sheared); dcm2niix's "
                      f"uncorrected one points the same way but is {np.linalg.norm(shrunk):.4f} mm long (the "
                      f"spacing along the normal)")
        # uneven spacing
        folder, uid, d = one(tmp, "uneven", steps=[2.5, 2.5, 3.0, 2.5, 2.5, 2.5, 2.5])
        (entry,) = ichseg(folder, tmp)
        assert "error" in entry and "uneven step 3.0" in entry["error"], entry
        (entry,) = ichseg(folder, tmp, "--allow-uneven")
        Ai, I = volume(entry)
        Ad, D = d[uid]
        check_flip("uneven spacing (in-plane)", Ai, I, Ad, D, slice_column=False)
        assert abs(Ai[2, 2] - 18.0 / 7) < TOL and abs(Ad[2, 2] - 2.5) < TOL, (Ai, Ad)
        report.append("uneven spacing: refused by default; accepted, ichseg's step is the mean 18/7 mm, "
                      "dcm2niix's the first 2.5 mm")
        # missing slice
        folder, uid, d = one(tmp, "missing", drop=4)
        (entry,) = ichseg(folder, tmp)
        assert "error" in entry and "1 slice(s) missing" in entry["error"], entry
        (entry,) = ichseg(folder, tmp, "--allow-missing")
        Ai, I = volume(entry)
        check_flip("missing slice", Ai, I, *d[uid])
        Ae, E = d[uid + "_Eq_1"]
        assert E.shape[2] == NZ and np.abs(Ae - d[uid][0]).max() < TOL
        filled = E[:, ::-1, :].transpose(2, 1, 0)
        kept = [k for k in range(NZ) if k != 4]  # real slice positions of ichseg's 7 slices
        assert (filled[kept] == I).all(), "dcm2niix's gap-filled volume does not hold ichseg's slices in place"
        report.append("missing slice: refused by default; accepted, ichseg's 7 slices are dcm2niix's _Eq_1 "
                      "slices 0-3, 5-7")
        # a mixed folder
        mixed = os.path.join(tmp, "mixed")
        ax = write_series(mixed, localizer_at=True)
        ob = write_series(mixed, orient=rot("y", 10) @ rot("z", -25), rows=24, cols=36)
        write_series(mixed, modality="MR", rows=20, cols=20)
        d = dcm2niix(mixed, os.path.join(tmp, "out_mixed"))
        got = {e["series_uid"]: e for e in ichseg(mixed, tmp)}
        assert set(got) == {ax, ob}, f"ichseg found series {sorted(got)}; expected the two CT series"
        assert got[ax]["dropped"] == 1, got[ax]
        for uid, rows, label in [(ax, R, "mixed folder: axial series (localizer dropped)"),
                                 (ob, 24, "mixed folder: oblique series")]:
            Ai, I = volume(got[uid])
            cands = [k for k, (a, v) in d.items() if k.startswith(uid) and v.shape == I.shape[::-1]]
            assert len(cands) == 1, (uid, sorted(d))
            check_flip(label, Ai, I, *d[cands[0]], rows=rows)
    for line in report:
        print(" ", line)
    print(f"{len(report)} checks: ichseg and dcm2niix agree (deliberate differences as documented)")


if __name__ == "__main__":
    main()
