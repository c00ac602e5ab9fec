#!/usr/bin/env python3
"""Lists every #include of the library that breaks the layer order, and fails (exit 1) when there is one.

The order is read from one place: the table in the "Layers" section of docs/design.md. Each row is a layer
(rank 1 at the bottom); its "where" cell names the folders and files of the layer in backticks; its "never
includes" cell names folders the layer must not include even though they are lower (e.g. autograd -> cuda).
A file may include a file of its own layer or of a lower one. Also reported: a library file that belongs to no
layer (a new folder must be given its place in the table) and an ichseg include that names no existing file.

Checked: every file under include/ichseg/ and kernels/. Examples, tests and benchmarks sit on top of all layers
and are not checked. Python 3 standard library only.

Usage: tools/check_layers.py [--root DIR] [--quiet]
"""

import argparse
import os
import re
import sys

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
CELL_PATH_RE = re.compile(r"`([^`]+)`")
SOURCE_EXT = (".hpp", ".h", ".cuh", ".cu", ".cpp", ".inc")
# Headers the build generates (under <build>/generated/include/): they count as existing, in the layer of their path.
GENERATED = {"include/ichseg/study/builtin_profiles.hpp": "cmake/IchsegProfiles.cmake"}


def parse_layers(design_md):
    """Rows of the Layers table: [(rank, name, [paths], [never])], paths relative to the repository root."""
    with open(design_md, encoding="utf-8") as f:
        lines = f.read().splitlines()
    in_section = False
    header = None
    rows = []
    for line in lines:
        if line.startswith("## "):
            if in_section and rows:
                break
            in_section = line.strip() == "## Layers"
            continue
        if not in_section or not line.startswith("|"):
            if header is not None and rows:
                break  # the table ended
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if set(line.replace("|", "").strip()) <= set("-: "):
            continue  # the separator row
        row = dict(zip(header, cells))
        try:
            rank = int(row["rank"])
        except (KeyError, ValueError):
            sys.exit(f"{design_md}: Layers table: a row without a numeric 'rank' cell: {line}")
        paths = CELL_PATH_RE.findall(row.get("where", ""))
        never = CELL_PATH_RE.findall(row.get("never includes", ""))
        if not paths:
            sys.exit(f"{design_md}: Layers table: the row of rank {rank} names no `path` in its 'where' cell")
        rows.append((rank, row.get("layer", "?"), paths, never))
    if not rows:
        sys.exit(f"{design_md}: no table with columns rank | layer | where | ... under '## Layers'")
    return rows


def layer_of(path, rows):
    """(rank, name, never) of the row whose path is the longest prefix of `path`; None when no row matches."""
    best = None
    for rank, name, paths, never in rows:
        for p in paths:
            if path == p or (p.endswith("/") and path.startswith(p)):
                if best is None or len(p) > best[0]:
                    best = (len(p), rank, name, never)
    return None if best is None else best[1:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("--quiet", action="store_true", help="print only the violations")
    a = ap.parse_args()
    root = os.path.abspath(a.root)
    design = os.path.join(root, "docs", "design.md")
    rows = parse_layers(design)

    files = []
    for top in ("include/ichseg", "kernels"):
        for d, _, names in os.walk(os.path.join(root, top)):
            for n in sorted(names):
                if n.endswith(SOURCE_EXT):
                    files.append(os.path.relpath(os.path.join(d, n), root))
    files.sort()

    problems = []
    edges = 0
    for src in files:
        lay = layer_of(src, rows)
        if lay is None:
            problems.append(f"{src}: belongs to no layer of the table in docs/design.md (add its folder)")
            continue
        rank, name, never = lay
        with open(os.path.join(root, src), encoding="utf-8", errors="replace") as f:
            for no, line in enumerate(f, 1):
                m = INCLUDE_RE.match(line)
                if not m:
                    continue
                inc = m.group(1)
                if inc.startswith("ichseg/"):
                    target = "include/" + inc
                elif src.startswith("kernels/") and "/" not in inc and inc.endswith(".cuh"):
                    target = "kernels/" + inc  # kernels include each other by file name
                else:
                    continue  # system and third-party headers
                edges += 1
                if target not in GENERATED and not os.path.exists(os.path.join(root, target)):
                    problems.append(f"{src}:{no}: includes {inc}, which does not exist")
                    continue
                tl = layer_of(target, rows)
                if tl is None:
                    problems.append(f"{src}:{no}: includes {inc}, which belongs to no layer of the table")
                    continue
                trank, tname = tl[0], tl[1]
                if trank > rank:
                    problems.append(f"{src}:{no}: {name} (rank {rank}) includes {inc} of {tname} (rank {trank}): "
                                    "an include that points up")
                elif any(target == p or (p.endswith("/") and target.startswith(p)) for p in never):
                    problems.append(f"{src}:{no}: {name} (rank {rank}) includes {inc}: {name} never includes "
                                    f"{', '.join(never)}")
    if not a.quiet:
        order = " -> ".join(f"{name}" for _, name, _, _ in sorted(rows, key=lambda r: r[0]))
        print(f"layer order (docs/design.md): {order}")
        print(f"checked {len(files)} files, {edges} ichseg includes")
    for p in problems:
        print(p)
    if problems:
        print(f"check_layers: {len(problems)} include(s) break the layer order of docs/design.md")
        return 1
    if not a.quiet:
        print("check_layers: every include points to its own or a lower layer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
