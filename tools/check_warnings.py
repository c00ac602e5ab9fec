#!/usr/bin/env python3
"""Fail on compiler warnings in the project's own files.

Reads build logs (GCC/Clang `file:line:col: warning: ...`, nvcc/cudafe `file(line): warning #...`, ptxas and
nvlink `warning :` lines) and sorts every warning by the file it names: a file of this repository (include/,
kernels/, tests/, examples/, benchmarks/, tools/) is the project's own and fails the check; a file outside it
(system, Eigen, CUDA headers) is third-party and is only counted, since those are silenced where they occur
(include/ichseg/core/eigen.hpp says how) rather than by switching warnings off for the project.
A warning that names no file (ptxas, nvlink) counts as the project's: it comes from our kernels.

Usage: tools/check_warnings.py LOG [LOG...]        exit 0 clean, 1 project warnings found, 2 bad usage
"""
import os
import re
import sys

GCC = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?:(?P<col>\d+):)? warning: (?P<msg>.*)$")
NVCC = re.compile(r"^(?P<file>[^\s(][^(]*)\((?P<line>\d+)\): warning[ #:](?P<msg>.*)$")
TOOL = re.compile(r"^(?P<tool>ptxas|nvlink|nvcc)\b.*warning\s*:?\s*(?P<msg>.*)$", re.IGNORECASE)


def classify(path, root):
    """'project' for a file of this repository outside build folders, else 'third-party'."""
    full = os.path.realpath(path if os.path.isabs(path) else os.path.join(root, path))
    rel = os.path.relpath(full, root)
    if rel.startswith(".."):
        return "third-party"
    top = rel.split(os.sep, 1)[0]
    return "third-party" if top.startswith("build") else "project"


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    root = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
    own, third = [], {}
    for log in argv[1:]:
        try:
            lines = open(log, encoding="utf-8", errors="replace").read().splitlines()
        except OSError as e:
            print(f"check_warnings: cannot read build log {log}: {e.strerror}", file=sys.stderr)
            return 2
        for line in lines:
            m = GCC.match(line) or NVCC.match(line)
            if m:
                where = classify(m.group("file"), root)
                if where == "project":
                    own.append(line)
                else:
                    key = os.path.basename(m.group("file"))
                    third[key] = third.get(key, 0) + 1
                continue
            t = TOOL.match(line)
            if t:
                own.append(line)
    if third:
        summary = ", ".join(f"{k} x{v}" for k, v in sorted(third.items(), key=lambda kv: -kv[1]))
        print(f"check_warnings: {sum(third.values())} warning(s) in third-party headers (not failing): {summary}")
    if own:
        print(f"check_warnings: {len(own)} warning(s) in the project's own files:")
        for line in own[:200]:
            print("  " + line)
        return 1
    print("check_warnings: no warnings in the project's own files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
