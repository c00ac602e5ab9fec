#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs missing packages, checks that every include
# follows the layer order of docs/design.md, builds (Release), runs every test, then an ASan+UBSan build of the
# suite, then a separate consumer project against the installed package, then short fuzz runs of the file
# readers. Each build fails on a compiler warning in the project's own files (tools/check_warnings.py).
# Usage: tools/test.sh   (ICHSEG_JOBS=N to change parallelism)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
JOBS="${ICHSEG_JOBS:-$(nproc)}"
export CTEST_OUTPUT_ON_FAILURE=1

echo "== [0/4] Layer order of the includes (tools/check_layers.py reads it from docs/design.md)"
python3 tools/check_layers.py

echo "== [1/4] Release build and tests, and the GPU verification's dry-run"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DICHSEG_BUILD_TESTS=ON -DICHSEG_BUILD_EXAMPLES=ON \
      -DICHSEG_BUILD_BENCHMARKS=ON > build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j "$JOBS" 2>&1 | tee build-output.log
python3 tools/check_warnings.py build-output.log
ctest --test-dir build -j "$JOBS" --timeout 900
# The GPU verification's dry-run (tools/gpu_verify.sh): the CUDA binaries of this build, packed as for a GPU
# machine, start and report no GPU; every step's Catch2 filter and benchmark names are checked; ~15 s.
if [ -x build/tests/cuda/test_cuda ]; then
    bash tools/gpu_verify.sh pack build build/gpu-dist > build/gpu-dist.log 2>&1 || { cat build/gpu-dist.log; exit 1; }
    bash tools/gpu_verify.sh dry-run build/gpu-dry-run build/gpu-dist
else
    echo "(no CUDA build: the GPU verification dry-run is skipped)"
fi

echo "== [2/4] AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DICHSEG_SANITIZE=address,undefined -DICHSEG_CUDA=OFF \
      -DICHSEG_BUILD_EXAMPLES=OFF -DICHSEG_BUILD_BENCHMARKS=OFF > build-asan.log 2>&1 || { cat build-asan.log; exit 1; }
cmake --build build-asan -j "$JOBS" 2>&1 | tee build-asan-output.log
python3 tools/check_warnings.py build-asan-output.log
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan -j "$JOBS" --timeout 1800 -LE slow

echo "== [3/4] Consumer project: find_package(ichseg) + target_link_libraries(app ichseg::ichseg), and ichseg::float"
rm -rf build/install build-consumer
cmake --install build --prefix "$PWD/build/install" > /dev/null
cmake -S tests/consumer -B build-consumer -DCMAKE_PREFIX_PATH="$PWD/build/install" > /dev/null
cmake --build build-consumer -j "$JOBS"
./build-consumer/ichseg_consumer
# The same program linked with ichseg::float (the float templates declared extern, compiled once in the package).
./build-consumer/ichseg_consumer_float

echo "== [4/4] Short fuzz runs of the file readers"
if [ -x tools/fuzz.sh ]; then bash tools/fuzz.sh; else echo "(no fuzz targets yet)"; fi
echo "== all tests passed"
