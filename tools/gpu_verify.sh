#!/usr/bin/env bash
# GPU verification of the CUDA backend (issue 4): build the [cuda] tests and GPU benchmarks for sm_90, then on a
# machine with a GPU run the tests, compute-sanitizer memcheck + racecheck, the GPU benchmarks and the PyTorch
# reference scripts side by side, and write a summary for docs/performance.md.
#
#   tools/gpu_verify.sh build          on a machine with nvcc and the Debian -dev packages (a developer machine):
#                                      configures build-gpu (sm_90, -DICHSEG_IO=OFF, static CUDA runtime), builds
#                                      the GPU binaries and packs them with their non-system shared libraries
#                                      into build-gpu/dist (about 10-30 MB; carry that folder to the GPU machine).
#   tools/gpu_verify.sh run [PART...]  on the GPU machine (only the driver is required; PyTorch, cuDNN/cuBLAS
#                                      wheels and compute-sanitizer are used when present). PART: tests sanitize
#                                      bench torch summary (default: all of them, in that order). Results go to
#                                      $OUT (the device tool's output folder) or build-gpu/verify.
#   tools/gpu_verify.sh all            build, then run (a machine with both nvcc + deps and a GPU).
#
# Environment: ICHSEG_GPU_ARCH (default 90), ICHSEG_JOBS (default 2), ICHSEG_VERIFY_QUICK=1 (shorter benchmarks).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BUILD="$ROOT/build-gpu"
DIST="$BUILD/dist"
ARCH="${ICHSEG_GPU_ARCH:-90}"
JOBS="${ICHSEG_JOBS:-2}"
BINARIES=(test_cuda test_cuda_cudnn test_cuda_study bench_cuda_layers bench_cuda_train_step bench_cuda_losses)

build() {
    set -e
    echo "== configure build-gpu (sm_$ARCH, static CUDA runtime, no I/O layer)"
    mkdir -p "$BUILD"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DICHSEG_CUDA=ON -DICHSEG_IO=OFF \
          -DICHSEG_BUILD_EXAMPLES=OFF -DICHSEG_BUILD_TESTS=ON -DICHSEG_BUILD_BENCHMARKS=ON \
          -DICHSEG_CUDA_STATIC_RUNTIME=ON -DICHSEG_NATIVE_ARCH=OFF -DCMAKE_CUDA_ARCHITECTURES="$ARCH" \
          > "$BUILD/configure.log" 2>&1 || { cat "$BUILD/configure.log"; exit 1; }
    echo "== build ${BINARIES[*]}"
    cmake --build "$BUILD" -j "$JOBS" --target "${BINARIES[@]}"
    rm -rf "$DIST" && mkdir -p "$DIST/bin" "$DIST/lib"
    for b in test_cuda test_cuda_cudnn test_cuda_study; do cp "$BUILD/tests/cuda/$b" "$DIST/bin/"; done
    for b in bench_cuda_layers bench_cuda_train_step bench_cuda_losses; do cp "$BUILD/benchmarks/$b" "$DIST/bin/"; done
    strip "$DIST"/bin/* || true
    # Bundle every shared library that is not part of glibc / the C++ runtime / the driver (libbenchmark, libgomp):
    # the GPU machine has no Debian -dev packages. libcuda comes from the driver; cuDNN / cuBLAS are dlopen'ed.
    for b in "$DIST"/bin/*; do
        ldd "$b" | awk '/=> \// {print $1, $3}' | while read -r name path; do
            case "$name" in
                libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|ld-linux*|libstdc++.so*|libgcc_s.so*|libcuda.so*) ;;
                *) cp -L "$path" "$DIST/lib/$name" ;;
            esac
        done
    done
    git -C "$ROOT" rev-parse HEAD > "$DIST/COMMIT" 2>/dev/null || true
    echo "== packed $(du -sh "$DIST" | cut -f1) into $DIST:"; ls -la "$DIST/bin" "$DIST/lib"
    set +e
}

# ---- run on the GPU machine -------------------------------------------------------------------------------------
OUTDIR="${OUT:-$BUILD/verify}"
WORK="$BUILD/verify-work"

setup_run() {
    mkdir -p "$OUTDIR" "$WORK"
    if [ ! -x "$DIST/bin/test_cuda" ]; then
        if command -v nvcc > /dev/null && [ -f /usr/include/eigen3/Eigen/Core ]; then build; else
            echo "no build-gpu/dist and no build environment here: run 'tools/gpu_verify.sh build' on a developer"
            echo "machine and carry build-gpu/dist to this one"; exit 2
        fi
    fi
    export LD_LIBRARY_PATH="$DIST/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    # cuDNN / cuBLAS from the PyTorch wheels (nvidia-cudnn-cu13, nvidia-cublas) when the system has none.
    if command -v python3 > /dev/null; then
        local extra
        extra=$(python3 - <<'PY' 2>/dev/null
import glob, os
try:
    import nvidia
    roots = list(nvidia.__path__)
except Exception:
    roots = []
dirs = set()
for r in roots:
    for pat in ('*/lib/libcudnn.so*', '*/lib/libcublas.so*', 'cu*/lib/libcudnn.so*', 'cu*/lib/libcublas.so*'):
        for f in glob.glob(os.path.join(r, pat)):
            dirs.add(os.path.dirname(f))
print(':'.join(sorted(dirs)))
PY
)
        [ -n "$extra" ] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$extra"
    fi
    SANITIZER="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1 || true)"
    {
        echo "date: $(date -u +%FT%TZ)"
        echo "commit: $(cat "$DIST/COMMIT" 2>/dev/null || git -C "$ROOT" rev-parse HEAD 2>/dev/null)"
        nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'
        echo "compute-sanitizer: ${SANITIZER:-not found}"
        python3 -c "import torch; print('torch:', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())" 2>/dev/null || echo "torch: not importable"
    } > "$WORK/env.txt"
    cat "$WORK/env.txt"
}

run_tests() {
    echo "== [cuda] tests"
    local rc=0
    for t in test_cuda test_cuda_cudnn test_cuda_study; do
        echo "---- $t" | tee -a "$OUTDIR/tests.log"
        timeout 420 "$DIST/bin/$t" --durations yes 2>&1 | tail -n 400 | tee -a "$OUTDIR/tests.log"
        local r=${PIPESTATUS[0]}
        echo "exit code $r ($t; 77 = skipped)" | tee -a "$OUTDIR/tests.log"
        [ "$r" -ne 0 ] && [ "$r" -ne 77 ] && rc=1
    done
    return $rc
}

run_sanitize() {
    if [ -z "$SANITIZER" ]; then echo "compute-sanitizer not found: sanitizer runs skipped" | tee "$OUTDIR/sanitizer.log"; return 0; fi
    # Small shapes only (ICHSEG_CUDA_TEST_SMALL) and no paper-size U-Net: the tools slow kernels down 10-100x.
    export ICHSEG_CUDA_TEST_SMALL=1
    for tool in memcheck racecheck; do
        echo "== compute-sanitizer --tool $tool" | tee -a "$OUTDIR/sanitizer.log"
        timeout 200 "$SANITIZER" --tool "$tool" --error-exitcode 9 --print-limit 20 \
            "$DIST/bin/test_cuda" "~[large]" 2>&1 | tail -n 60 | tee -a "$OUTDIR/sanitizer.log"
        echo "exit code ${PIPESTATUS[0]} ($tool; 9 = errors found, 124 = time limit)" | tee -a "$OUTDIR/sanitizer.log"
    done
    unset ICHSEG_CUDA_TEST_SMALL
}

run_bench() {
    echo "== GPU benchmarks (ichseg)"
    local mt=""
    [ "${ICHSEG_VERIFY_QUICK:-0}" = 1 ] && mt="--benchmark_min_time=0.02"
    "$DIST/bin/bench_cuda_layers" --benchmark_format=json $mt > "$WORK/bench_layers.json" 2> "$WORK/bench_layers.err" || cat "$WORK/bench_layers.err"
    "$DIST/bin/bench_cuda_train_step" --benchmark_format=json > "$WORK/bench_train_step.json" 2> "$WORK/bench_train_step.err" || cat "$WORK/bench_train_step.err"
    "$DIST/bin/bench_cuda_losses" --benchmark_format=json > "$WORK/bench_losses.json" 2> "$WORK/bench_losses.err" || cat "$WORK/bench_losses.err"
}

run_torch() {
    echo "== PyTorch reference (same GPU, same session)"
    if ! python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then echo "no CUDA PyTorch: skipped"; return 0; fi
    local ref="$ROOT/benchmarks/reference"
    : > "$WORK/torch.jsonl"
    PYTHONUNBUFFERED=1 python3 "$ref/gpu_train_step.py" >> "$WORK/torch.jsonl" || true
    PYTHONUNBUFFERED=1 python3 "$ref/gpu_losses.py" >> "$WORK/torch.jsonl" || true
    PYTHONUNBUFFERED=1 python3 "$ref/gpu_layers.py" >> "$WORK/torch.jsonl" || true
}

run_summary() {
    python3 "$ROOT/tools/gpu_summary.py" "$WORK" "$OUTDIR"
    tar -C "$WORK" -czf "$OUTDIR/raw.tar.gz" . 2>/dev/null || true
}

run() {
    setup_run
    local parts=("$@")
    [ ${#parts[@]} -eq 0 ] && parts=(tests sanitize bench torch summary)
    local rc=0
    for p in "${parts[@]}"; do
        case "$p" in
            tests) run_tests || rc=1 ;;
            sanitize) run_sanitize ;;
            bench) run_bench ;;
            torch) run_torch ;;
            summary) run_summary ;;
            *) echo "unknown part $p"; exit 2 ;;
        esac
    done
    return $rc
}

case "${1:-}" in
    build) build ;;
    run) shift; run "$@" ;;
    all) build && run ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
esac
