#!/usr/bin/env bash
# The README's main command: build ichseg_reproduce and run the study's `quick` profile (SPEC protocol, small
# images and networks, few epochs) on freshly generated synthetic phantoms in ./study-quick/, then print
# Table 3 and where the figures are. About 10 minutes on an idle 2-core CPU (the profile is meant to stay within
# 20). Rerunning skips finished work and resumes an interrupted run; delete ./study-quick/ to start from
# scratch. Extra arguments go to ichseg_reproduce (e.g. --quiet).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j "${ICHSEG_JOBS:-$(nproc)}" --target ichseg_reproduce ichseg_predict
time ./build/examples/ichseg_reproduce --profile quick --data study-quick/data --out study-quick/out \
    --generate-phantoms "$@"
