"""NIfTI: ichseg's affine and voxel values against nibabel's, on files nibabel writes with every sform / qform
combination a reader meets.

Variants: sform and qform equal (codes 1/1); qform only (0/1); a sheared sform only (1/0, Seg-CQ500's gantry
tilt); sform and qform that disagree (2/1: the sform wins, as in nibabel); qfac -1 (a left-handed qform); an
oblique qform with non-trivial quaternion; big-endian; gzip with scl_slope / scl_inter; float32 and uint8 data;
and no orientation at all (0/0).
Expected: ichseg's affine == nibabel's `img.affine` (nibabel's get_best_affine: sform if code > 0, else qform if
code > 0) within 1e-5 (float32 header fields), and ichseg's voxel (k, j, i) == nibabel's get_fdata()[i, j, k],
exactly. Deliberate difference, checked as such: with both codes 0 nibabel returns its Analyze-style affine
(x flipped and the grid centred), ichseg diag(pixdim) with a warning (docs/data.md §2.1).
Exit 77 (Skipped) without numpy or nibabel.   Usage: nifti_nibabel_test.py IO_PEER_TOOL"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlib  # noqa: E402

np, nib = peerlib.need("numpy", "nibabel")
TOOL = sys.argv[1]
SHAPE = (12, 10, 6)  # i, j, k
rng = np.random.RandomState(11)


def rot(axis, deg):
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    return {"x": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]), "z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])}[axis]


def affine(R=np.eye(3), zooms=(0.8, 0.6, 2.5), offset=(-40.0, 30.0, -12.0), shear=0.0):
    a = np.eye(4)
    a[:3, :3] = R @ np.diag(zooms)
    a[1, 2] += shear
    a[:3, 3] = offset
    return a


def variants():
    base = affine()
    obl = affine(rot("z", 25) @ rot("x", -10))
    left = affine(np.diag([1.0, 1.0, -1.0]))  # qfac -1 (det < 0)
    other = affine(rot("z", 90), offset=(5.0, 6.0, 7.0))
    yield "sform=qform (1/1)", base, dict(sform=(base, 1), qform=(base, 1))
    yield "qform only (0/1)", obl, dict(sform=(None, 0), qform=(obl, 1))
    sheared = affine(shear=0.5)  # a y-z shear, as a gantry tilt gives
    yield "sheared sform only (1/0)", sheared, dict(sform=(sheared, 1), qform=(None, 0))
    yield "sform 2 wins over a different qform 1", base, dict(sform=(base, 2), qform=(other, 1))
    yield "left-handed qform (qfac -1)", left, dict(sform=(None, 0), qform=(left, 1))
    yield "oblique sform+qform", obl, dict(sform=(obl, 1), qform=(obl, 1))


def write(path, data, forms, dtype=np.int16, big_endian=False, slope=None, inter=None):
    hdr = nib.Nifti1Header(endianness=">" if big_endian else "<")
    img = nib.Nifti1Image(data.astype(dtype), None, hdr)
    sa, sc = forms["sform"]
    qa, qc = forms["qform"]
    img.set_sform(sa, code=sc)
    img.set_qform(qa, code=qc)
    if slope is not None:
        img.header.set_slope_inter(slope, inter)
    nib.save(img, path)


def compare(label, path, tmp, expect_affine=None):
    out = os.path.join(tmp, "v.f32")
    info, _ = peerlib.tool(TOOL, "nifti", path, out)
    img = nib.load(path)
    want = img.affine if expect_affine is None else expect_affine
    got = np.array(info["affine"])
    err = float(np.abs(got - want).max())
    assert err < 1e-5, f"{label}: ichseg affine\n{got}\nnibabel\n{want}"
    nx, ny, nz = info["shape"]
    mine = peerlib.read_f32(out, (nz, ny, nx)).astype(np.float64).transpose(2, 1, 0)
    theirs = img.get_fdata()
    assert mine.shape == theirs.shape, (label, mine.shape, theirs.shape)
    d = float(np.abs(mine - theirs.astype(np.float32).astype(np.float64)).max())
    assert d == 0, f"{label}: voxels differ by up to {d}"
    print(f"  {label:<48} sform {info['sform_code']} qform {info['qform_code']}  affine err {err:.1e}, "
          f"{mine.size} voxels equal")
    return info


def main():
    data = rng.randint(-1024, 3000, size=SHAPE)
    with tempfile.TemporaryDirectory(prefix="ichseg-nibabel-") as tmp:
        for n, (label, a, forms) in enumerate(variants()):
            p = os.path.join(tmp, f"v{n}.nii")
            write(p, data, forms)
            compare(label, p, tmp)
        forms = dict(sform=(affine(), 1), qform=(affine(), 1))
        p = os.path.join(tmp, "be.nii")
        write(p, data, forms, big_endian=True)
        assert nib.load(p).header.endianness == ">"
        compare("big-endian", p, tmp)
        p = os.path.join(tmp, "scaled.nii.gz")
        write(p, np.clip(data, 0, 3000), forms, dtype=np.uint16, slope=0.5, inter=-1024.0)
        compare("gzip, uint16, scl_slope 0.5, scl_inter -1024", p, tmp)
        p = os.path.join(tmp, "f32.nii.gz")
        write(p, data / 3.0, forms, dtype=np.float32)
        compare("float32, gzip", p, tmp)
        p = os.path.join(tmp, "mask.nii")
        write(p, (data > 500), forms, dtype=np.uint8)
        compare("uint8", p, tmp)
        # Both codes 0: deliberate difference. nibabel: its Analyze-style base affine; ichseg: diag(pixdim).
        p = os.path.join(tmp, "none.nii")
        img = nib.Nifti1Image(data.astype(np.int16), None)
        img.header.set_zooms((0.8, 0.6, 2.5))
        img.set_sform(None, code=0)
        img.set_qform(None, code=0)
        nib.save(img, p)
        nb = nib.load(p).affine
        assert nb[0, 0] < 0 and abs(nb[0, 3]) > 0, nb  # nibabel flips x and centres the grid
        info = compare("no sform, no qform (0/0): diag(pixdim)", p, tmp, expect_affine=np.diag([0.8, 0.6, 2.5, 1.0]))
        assert any("pixdim" in w for w in info["warnings"]), info["warnings"]
    print("ichseg and nibabel", nib.__version__, "agree (and differ where documented)")


if __name__ == "__main__":
    main()
