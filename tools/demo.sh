#!/usr/bin/env bash
# Build and run the demo from a fresh Debian 12 machine (installs missing packages first).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j "${ICHSEG_JOBS:-$(nproc)}" --target ichseg_demo
./build/examples/ichseg_demo "$@"
