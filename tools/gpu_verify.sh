#!/usr/bin/env bash
# GPU verification of the CUDA backend in ONE command that fits a rented GPU (issue 14): at most 8 minutes on one
# H100, from binaries built on a developer machine and carried there, in priority order, every step with its own
# deadline; results written straight into the output folder and the summary rewritten after every step, so a run
# cut off at any moment still brings back what it finished.
#
#   tools/gpu_verify.sh build [DIST]         developer machine (nvcc + the Debian -dev packages): configure
#                                            build-gpu (sm_90, static CUDA runtime, no I/O layer, host code for
#                                            x86-64-v3), build the [cuda] tests and GPU benchmarks, pack them
#                                            into DIST (default build-gpu/dist). Carry DIST to the GPU machine.
#   tools/gpu_verify.sh pack BUILD DIST      pack binaries already built in BUILD (e.g. the Release build/) into
#                                            DIST with their non-system shared libraries.
#   tools/gpu_verify.sh run [DIST]           GPU machine (only the driver is required; PyTorch, cuDNN / cuBLAS
#                                            wheels and compute-sanitizer are used when present): the plan below
#                                            in ICHSEG_VERIFY_BUDGET_S (default 480) seconds. Output: $OUT (the
#                                            device tool's folder) or build-gpu/verify. Exit 0 only when every
#                                            step of the plan ran and passed; a binary that finds no GPU (exit
#                                            code 77) FAILS the run.
#   tools/gpu_verify.sh dry-run OUTDIR [DIST]  CPU-only machine (CI): the same plan and budget accounting, every
#                                            binary started for real (it must report "skipped: no GPU", exit 77),
#                                            every Catch2 filter checked to select tests, the benchmark names
#                                            checked against what gpu_summary.py requires; OUTDIR/summary.md
#                                            names each step with its time budget. Exit 0 when all of that holds.
#
# Output (at most 6 files, each written as the run goes): summary.md (rewritten after every step), run.tsv (the
# plan, environment, every command's exit code and duration), verify.log (tests, benchmark stderr, PyTorch
# stderr), sanitizer.log, bench.json (each Google Benchmark run's JSON document, appended in order), torch.jsonl.
#
# Environment: ICHSEG_VERIFY_BUDGET_S (480), ICHSEG_VERIFY_STEPS (comma-separated step names: run only those, e.g.
# "env,tests" to rerun the tests after a fix in the same lease; default all), ICHSEG_GPU_ARCH (90), ICHSEG_JOBS (2).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
ARCH="${ICHSEG_GPU_ARCH:-90}"
JOBS="${ICHSEG_JOBS:-2}"
BUDGET="${ICHSEG_VERIFY_BUDGET_S:-480}"
SELECTED="${ICHSEG_VERIFY_STEPS:-}"
TESTS=(test_cuda test_cuda_checks test_cuda_cudnn test_cuda_cudnn_step test_cuda_study)
BENCHES=(bench_cuda_layers bench_cuda_train_step bench_cuda_losses)
REF="$ROOT/benchmarks/reference"

# ---- The plan: step:share:what. A step's deadline is the start plus the shares up to and including it, so a
# step may use what earlier steps left unused but never the share of a later one. The shares add up to
# BUDGET - 20 s (the last summary and exit). GPU-time estimates behind each share: docs/cuda.md.
PLAN=(
    "env:15:device, driver, CUDA, cuDNN, PyTorch and compute-sanitizer versions"
    "tests:145:[cuda] correctness tests against the CPU and cuDNN, all but [large]"
    "train-step:60:[large]: full training steps GPU vs CPU (paper U-Net), bitwise determinism, step through cuDNN"
    "memcheck:45:compute-sanitizer memcheck: tile/view checks, conv kernels, the other test_cuda cases (small shapes)"
    "racecheck:45:compute-sanitizer racecheck: tile checks, conv kernels, batch norm, pooling, losses (small shapes)"
    "bench-step:45:ichseg U-Net training step, batch 32, 256x256: fp32/tf32/bf16, and fp32/tf32 with cuDNN convs"
    "torch-step:30:PyTorch eager + cuDNN training step, same workload: fp32/tf32/bf16 (autocast, channels_last)"
    "bench-layers:40:compact layer set: 15 layers x fprop/dgrad/wgrad, ichseg tf32/bf16 beside cuDNN tf32"
    "torch-layers:35:PyTorch cuDNN on the compact layer set: tf32, bf16 (channels_last)"
    "rest:0:while time remains: losses (ichseg + PyTorch), synccheck + initcheck, full layer set (345), PyTorch full"
)
RESERVE=20

usage() { sed -n '2,36p' "$0"; exit 2; }
now() { date +%s; }
clean() { local s="$*"; s="${s//$'\t'/ }"; printf '%s' "${s//$'\n'/ }"; }

# ---- build and pack (developer machine) ------------------------------------------------------------------------
pack() {
    local build="$1" dist="$2" b f
    rm -rf "$dist" && mkdir -p "$dist/bin" "$dist/lib" || return 1
    for b in "${TESTS[@]}"; do
        f="$build/tests/cuda/$b"
        [ -x "$f" ] || { echo "pack: $f is missing (build the CUDA tests first)"; return 1; }
        cp "$f" "$dist/bin/"
    done
    for b in "${BENCHES[@]}"; do
        f="$build/benchmarks/$b"
        [ -x "$f" ] || { echo "pack: $f is missing (build the GPU benchmarks first)"; return 1; }
        cp "$f" "$dist/bin/"
    done
    # Every shared library that is not glibc, the C++ runtime or the driver (libbenchmark, libgomp, libcudart when
    # the runtime is not static): the GPU machine has no Debian -dev packages. cuDNN / cuBLAS are dlopen'ed there.
    for f in "$dist"/bin/*; do
        ldd "$f" | awk '/=> \// {print $1, $3}' | while read -r name path; do
            case "$name" in
                libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|ld-linux*|libstdc++.so*|libgcc_s.so*|libcuda.so*) ;;
                *) [ -e "$dist/lib/$name" ] || cp -L "$path" "$dist/lib/$name" ;;
            esac
        done
    done
    {
        echo "commit $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (uncommitted changes)')"
        echo "packed $(date -u +%FT%TZ) from $build"
        local nvcc
        nvcc=$(grep -m1 '^CMAKE_CUDA_COMPILER:' "$build/CMakeCache.txt" 2> /dev/null | cut -d= -f2)
        echo "nvcc $([ -x "$nvcc" ] && "$nvcc" --version | tail -1)"
        echo "cuda_architectures $(grep -oh 'code=sm_[0-9a]*\|code=\[[^]]*\]' "$build"/CMakeFiles/ichseg_cuda.dir/flags.make 2> /dev/null | sort -u | tr '\n' ' ')"
        echo "cxx_flags $(grep -m1 '^CMAKE_CXX_FLAGS:' "$build/CMakeCache.txt" 2>/dev/null | cut -d= -f2-) native=$(grep -m1 '^ICHSEG_NATIVE_ARCH' "$build/CMakeCache.txt" 2>/dev/null | cut -d= -f2)"
        echo "static_cudart $(grep -m1 '^ICHSEG_CUDA_STATIC_RUNTIME' "$build/CMakeCache.txt" 2>/dev/null | cut -d= -f2)"
    } > "$dist/BUILD_INFO"
    local kib
    kib=$(du -sk "$dist" | cut -f1)
    echo "== packed $((kib / 1024)) MiB into $dist"
    ls -la "$dist/bin" "$dist/lib"
    if [ "$kib" -gt $((56 * 1024)) ]; then echo "pack: $dist is over 56 MiB: it would not travel (64 MiB with the tree)"; return 1; fi
}

build() {
    local build="$ROOT/build-gpu" dist="${1:-$ROOT/build-gpu/dist}"
    echo "== configure build-gpu (sm_$ARCH, static CUDA runtime, no I/O layer, x86-64-v3 host code)"
    mkdir -p "$build"
    # -march=x86-64-v3 (AVX2, FMA; every H100 host has them) instead of -march=native: the CPU references of the
    # tests run on the GPU machine's processor, not this one's.
    cmake -S "$ROOT" -B "$build" -DCMAKE_BUILD_TYPE=Release -DICHSEG_CUDA=ON -DICHSEG_IO=OFF \
          -DICHSEG_BUILD_EXAMPLES=OFF -DICHSEG_BUILD_TESTS=ON -DICHSEG_BUILD_BENCHMARKS=ON \
          -DICHSEG_CUDA_STATIC_RUNTIME=ON -DICHSEG_NATIVE_ARCH=OFF -DCMAKE_CXX_FLAGS="-march=x86-64-v3" \
          -DCMAKE_CUDA_ARCHITECTURES="$ARCH" \
          $(command -v ccache > /dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache) \
          > "$build/configure.log" 2>&1 || { cat "$build/configure.log"; return 1; }
    echo "== build ${TESTS[*]} ${BENCHES[*]}"
    cmake --build "$build" -j "$JOBS" --target "${TESTS[@]}" "${BENCHES[@]}" || return 1
    pack "$build" "$dist"
}

# ---- run / dry-run ---------------------------------------------------------------------------------------------
tsv() { local IFS=$'\t'; echo "$*" >> "$TSV"; }

# run_cmd STEP LABEL CAP STDOUT STDERR CMD...: run with a timeout of min(CAP, time to the step's deadline) (CAP 0:
# the deadline alone); record the exit code and duration in run.tsv. Returns the exit code (125: no time left).
run_cmd() {
    local step="$1" label="$2" cap="$3" out="$4" err="$5"
    shift 5
    local left=$((STEP_END - $(now)))
    if [ "$cap" -gt 0 ] && [ "$cap" -lt "$left" ]; then left="$cap"; fi
    if [ "$left" -lt 3 ]; then
        tsv cmd "$step" "$label" 125 0 0 "not run: no time left"
        printf -- '---- [%s] %s: not run, no time left\n' "$step" "$label" >> "$err"
        return 125
    fi
    printf -- '\n---- [%s] %s (timeout %ss)\n$ %s\n' "$step" "$label" "$left" "$*" >> "$err"
    local t0 rc
    t0=$(now)
    timeout -k 10 "$left" "$@" >> "$out" 2>> "$err" < /dev/null
    rc=$?
    printf -- '---- [%s] %s: exit code %s after %ss\n' "$step" "$label" "$rc" "$(($(now) - t0))" >> "$err"
    tsv cmd "$step" "$label" "$rc" "$(($(now) - t0))" "$left" ""
    return "$rc"
}

# note STEP PROBLEM: a failed check of the step (any mode)
note() { tsv problem "$1" "$(clean "$2")"; PROBLEMS=$((PROBLEMS + 1)); STEP_PROBLEMS=$((STEP_PROBLEMS + 1)); }

# expect STEP LABEL RC: judge a binary's exit code. run: 0 passes, 77 (no GPU) fails. dry-run: 77 is expected.
expect() {
    local step="$1" label="$2" rc="$3"
    # The rest is optional: a part cut off at the deadline is reported (run.tsv, summary), not counted a problem.
    if [ "$step" = rest ] && { [ "$rc" = 124 ] || [ "$rc" = 137 ] || [ "$rc" = 125 ]; }; then return; fi
    if [ "$MODE" = run ]; then
        case "$rc" in
            0) ;;
            77) note "$step" "$label: exit code 77: no usable GPU (or no cuDNN for a cuDNN test), nothing was verified" ;;
            124|137) note "$step" "$label: killed at its time limit" ;;
            125) note "$step" "$label: not run, no time left in the step" ;;
            *) note "$step" "$label: exit code $rc" ;;
        esac
    else
        [ "$rc" = 77 ] || note "$step" "$label: expected exit code 77 (skipped: no GPU) on this machine, got $rc"
    fi
}

# catch_test STEP BINARY CAP [FILTER]: a [cuda] test binary with a Catch2 filter. In dry-run the filter must
# select at least one test case (a renamed tag would otherwise silently select none).
catch_test() {
    local step="$1" bin="$2" cap="$3" filter="${4:-}" n rc
    n=$(timeout 30 "$DIST/bin/$bin" --list-test-names-only ${filter:+"$filter"} 2> /dev/null | grep -c .)
    tsv cases "$step" "$bin ${filter:-(all)}" "$n"
    [ "$n" -gt 0 ] || note "$step" "$bin: the filter '${filter}' selects no test case (or the binary does not start)"
    run_cmd "$step" "$bin ${filter:-(all)}" "$cap" "$LOG" "$LOG" "$DIST/bin/$bin" ${filter:+"$filter"} \
        -w NoTests --durations yes
    rc=$?
    expect "$step" "$bin ${filter:-(all)}" "$rc"
}

# sanitize STEP TOOL BINARY CAP [FILTER]: a test binary under compute-sanitizer (small shapes).
sanitize() {
    local step="$1" tool="$2" bin="$3" cap="$4" filter="${5:-}" n rc
    n=$(timeout 30 "$DIST/bin/$bin" --list-test-names-only ${filter:+"$filter"} 2> /dev/null | grep -c .)
    tsv cases "$step" "$bin ${filter:-(all)}" "$n"
    [ "$n" -gt 0 ] || note "$step" "$bin: the filter '${filter}' selects no test case (or the binary does not start)"
    if [ -z "$SANITIZER" ]; then
        if [ "$MODE" = run ]; then note "$step" "compute-sanitizer not found: $tool did not run"; return; fi
        # dry-run: the binary alone, to show it starts (the sanitizer itself needs the GPU)
        run_cmd "$step" "$tool: $bin ${filter:-(all)} (no compute-sanitizer here: binary alone)" "$cap" "$SLOG" "$SLOG" \
            env ICHSEG_CUDA_TEST_SMALL=1 "$DIST/bin/$bin" ${filter:+"$filter"} -w NoTests
        expect "$step" "$bin under $tool" $?
        return
    fi
    run_cmd "$step" "$tool: $bin ${filter:-(all)}" "$cap" "$SLOG" "$SLOG" env ICHSEG_CUDA_TEST_SMALL=1 \
        "$SANITIZER" --tool "$tool" --error-exitcode 9 --print-limit 30 "$DIST/bin/$bin" ${filter:+"$filter"} -w NoTests
    rc=$?
    [ "$MODE" = run ] && [ "$rc" = 9 ] && { note "$step" "$tool found errors in $bin ${filter}"; return; }
    expect "$step" "$bin under $tool" "$rc"
}

# bench STEP BINARY CAP ARGS...: a GPU benchmark binary, its JSON document appended to bench.json.
bench() {
    local step="$1" bin="$2" cap="$3" rc
    shift 3
    run_cmd "$step" "$bin $*" "$cap" "$OUTDIR/bench.json" "$LOG" "$DIST/bin/$bin" --benchmark_format=json "$@"
    rc=$?
    expect "$step" "$bin" "$rc"
}

# names_check STEP SET: bench_cuda_layers' registered names == gpu_unet_layers.py's (dry-run; no GPU needed).
names_check() {
    local step="$1" set="$2" flag=""
    [ "$set" = full ] && flag="--full"
    if ! diff <(timeout 30 "$DIST/bin/bench_cuda_layers" $flag --benchmark_list_tests 2>&1 | sed 's|/manual_time$||') \
              <(python3 "$REF/gpu_unet_layers.py" "$set") > "$OUTDIR/.names.diff" 2>&1; then
        note "$step" "bench_cuda_layers $flag and reference/gpu_unet_layers.py $set name different benchmarks: $(head -c 300 "$OUTDIR/.names.diff")"
    fi
    rm -f "$OUTDIR/.names.diff"
    local want="unet_train_step/b32_256/ichseg/fp32 unet_train_step/b32_256/ichseg/tf32 unet_train_step/b32_256/ichseg/bf16"
    local got
    got=$(timeout 30 "$DIST/bin/bench_cuda_train_step" --benchmark_list_tests 2>&1 | sed 's|/manual_time$||' | tr '\n' ' ')
    for w in $want; do
        case " $got " in *" $w "*) ;; *) note "$step" "bench_cuda_train_step does not register $w" ;; esac
    done
}

# torch STEP LABEL CAP SCRIPT ARGS...: a PyTorch reference script, JSON lines appended to torch.jsonl.
torch_ref() {
    local step="$1" label="$2" cap="$3" script="$4"
    shift 4
    timeout 30 python3 -m py_compile "$REF/$script" 2>> "$LOG" || note "$step" "$script does not compile"
    if [ "$TORCH_CUDA" != yes ]; then
        if [ "$MODE" = run ]; then note "$step" "PyTorch with CUDA not importable: $label did not run"; fi
        tsv cmd "$step" "$label" - 0 0 "skipped: no CUDA PyTorch"
        return
    fi
    run_cmd "$step" "$label" "$cap" "$OUTDIR/torch.jsonl" "$LOG" env PYTHONUNBUFFERED=1 python3 "$REF/$script" "$@"
    local rc=$?
    if [ "$step" = rest ] && { [ "$rc" = 124 ] || [ "$rc" = 137 ] || [ "$rc" = 125 ]; }; then return; fi
    [ "$rc" = 0 ] || note "$step" "$label: exit code $rc"
}

summary() {
    python3 "$ROOT/tools/gpu_summary.py" "$OUTDIR" "$@" > /dev/null 2>> "$LOG"
}

step_env() {
    local s="env"
    tsv env mode "$MODE"
    tsv env date "$(date -u +%FT%TZ)"
    tsv env budget_s "$BUDGET"
    while read -r k v; do tsv env "build_$k" "$(clean "$v")"; done < "$DIST/BUILD_INFO" 2> /dev/null
    tsv env host_cpu "$(clean "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//') x $(nproc)")"
    tsv env glibc "$(clean "$(ldd --version 2>&1 | head -1)")"
    grep -q ' avx2 ' /proc/cpuinfo || note "$s" "this CPU has no AVX2: binaries built for x86-64-v3 will not run"
    if command -v nvidia-smi > /dev/null; then
        tsv env gpu "$(clean "$(timeout 20 nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader 2>&1 | head -1)")"
        tsv env driver "$(clean "$(timeout 20 nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>&1 | head -1)")"
        tsv env driver_cuda "$(clean "$(timeout 20 nvidia-smi 2>&1 | grep -o 'CUDA Version: [0-9.]*' | head -1 | cut -d' ' -f3)")"
    else
        tsv env gpu "none (nvidia-smi not found)"
        [ "$MODE" = run ] && note "$s" "nvidia-smi not found"
    fi
    tsv env compute_sanitizer "$(clean "${SANITIZER:-not found}${SANITIZER:+ $("$SANITIZER" --version 2>&1 | tail -1)}")"
    TORCH_CUDA=no
    local t
    t=$(timeout 60 python3 -c "import torch; print(torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), 'gpu', torch.cuda.is_available())" 2>&1 | tail -1)
    tsv env torch "$(clean "$t")"
    case "$t" in *"gpu True") TORCH_CUDA=yes ;; esac
    tsv env cudnn_library "$(clean "${CUDNN_DIRS:-not found in the Python wheels}")"
    tsv env ld_library_path "$(clean "$LD_LIBRARY_PATH")"
    [ -n "$SANITIZER" ] || [ "$MODE" != run ] || note "$s" "compute-sanitizer not found"
}

step_tests() {
    local s="tests"
    catch_test "$s" test_cuda 60 "~[large]"
    catch_test "$s" test_cuda_checks 30 "~[large]"
    catch_test "$s" test_cuda_cudnn_step 20 "~[large]"
    catch_test "$s" test_cuda_cudnn 60
    catch_test "$s" test_cuda_study 0
}
step_train_step() {
    local s="train-step"
    catch_test "$s" test_cuda 30 "[large]"
    catch_test "$s" test_cuda_checks 20 "[large]"
    catch_test "$s" test_cuda_cudnn_step 0 "[large]"
}
step_memcheck() {
    local s="memcheck"
    sanitize "$s" memcheck test_cuda_checks 15 "[tiles],[views]"
    sanitize "$s" memcheck test_cuda 15 "[conv2d],[conv_transpose2d]"
    sanitize "$s" memcheck test_cuda 0 "~[large]~[conv2d]~[conv_transpose2d]"
}
step_racecheck() {
    local s="racecheck"
    sanitize "$s" racecheck test_cuda_checks 15 "[tiles]"
    sanitize "$s" racecheck test_cuda 15 "[conv2d]"
    sanitize "$s" racecheck test_cuda 0 "[batchnorm2d],[pool],[loss]"
}
step_bench_step() {
    [ "$MODE" = dry-run ] && names_check bench-step compact
    bench bench-step bench_cuda_train_step 0 --benchmark_min_time=0.5 --benchmark_repetitions=3
}
step_torch_step() { torch_ref torch-step "gpu_train_step.py" 0 gpu_train_step.py --seconds 1; }
step_bench_layers() {
    [ "$MODE" = dry-run ] && names_check bench-layers full
    bench bench-layers bench_cuda_layers 0 --benchmark_min_time=0.05
}
step_torch_layers() { torch_ref torch-layers "gpu_layers.py --set compact" 0 gpu_layers.py --set compact --min-seconds 0.05; }
# The rest: each part only while time remains (none of it is required; the summary shows what ran).
step_rest() {
    local s="rest"
    bench "$s" bench_cuda_losses 60 --benchmark_min_time=0.2
    torch_ref "$s" "gpu_losses.py" 30 gpu_losses.py
    sanitize "$s" synccheck test_cuda_checks 30 "[tiles]"
    sanitize "$s" initcheck test_cuda_checks 30 "[tiles],[views]"
    bench "$s" bench_cuda_layers 0 --full --benchmark_min_time=0.05
    torch_ref "$s" "gpu_layers.py --set full" 0 gpu_layers.py --set full --min-seconds 0.05
}

execute() {
    MODE="$1" OUTDIR="$2" DIST="$3"
    [ -d "$DIST/bin" ] || { echo "gpu_verify: no binaries in $DIST/bin: run 'tools/gpu_verify.sh build' (or pack) first"; return 2; }
    mkdir -p "$OUTDIR" || return 2
    OUTDIR="$(cd "$OUTDIR" && pwd)" DIST="$(cd "$DIST" && pwd)"
    TSV="$OUTDIR/run.tsv" LOG="$OUTDIR/verify.log" SLOG="$OUTDIR/sanitizer.log"
    rm -f "$OUTDIR"/{summary.md,run.tsv,verify.log,sanitizer.log,bench.json,torch.jsonl}
    : > "$TSV"; : > "$LOG"; : > "$SLOG"
    PROBLEMS=0
    export LD_LIBRARY_PATH="$DIST/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    # cuDNN / cuBLAS from the PyTorch wheels (nvidia-cudnn-cu13, nvidia-cublas) when the system has none.
    CUDNN_DIRS=$(timeout 60 python3 - <<'PY' 2>/dev/null
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
    [ -n "$CUDNN_DIRS" ] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$CUDNN_DIRS"
    SANITIZER="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer \
                 /usr/local/cuda/compute-sanitizer/compute-sanitizer 2> /dev/null | head -1 || true)"
    local t0 end_sum=0 entry name share what total=0
    for entry in "${PLAN[@]}"; do total=$((total + $(cut -d: -f2 <<< "$entry"))); done
    if [ $((total + RESERVE)) -gt "$BUDGET" ]; then
        echo "gpu_verify: the plan's shares ($total s) + $RESERVE s exceed the budget ($BUDGET s)"; return 2
    fi
    t0=$(now)
    tsv env start_epoch "$t0"
    for entry in "${PLAN[@]}"; do
        IFS=: read -r name share what <<< "$entry"
        if [ "$name" = rest ]; then share=$((BUDGET - RESERVE - end_sum)); fi
        end_sum=$((end_sum + share))
        tsv plan "$name" "$share" "$end_sum" "$what"
    done
    summary --plan-only
    echo "== gpu_verify $MODE: budget ${BUDGET}s, output in $OUTDIR"
    end_sum=0
    for entry in "${PLAN[@]}"; do
        IFS=: read -r name share what <<< "$entry"
        if [ "$name" = rest ]; then share=$((BUDGET - RESERVE - end_sum)); fi
        end_sum=$((end_sum + share))
        STEP_END=$((t0 + end_sum))
        STEP_PROBLEMS=0
        local s0
        s0=$(now)
        echo "== [$(($(now) - t0))s] $name (deadline at ${end_sum}s): $what"
        tsv step "$name" running 0 ""
        if [ -n "$SELECTED" ] && [[ ",$SELECTED," != *",$name,"* ]]; then
            tsv step "$name" "not selected" 0 "ICHSEG_VERIFY_STEPS=$SELECTED"
            continue
        fi
        if [ "$(now)" -ge $((STEP_END - 2)) ]; then
            tsv step "$name" "not run" 0 "no time left"
            summary
            continue
        fi
        "step_${name//-/_}"
        local status
        if [ "$STEP_PROBLEMS" -eq 0 ]; then status=$([ "$MODE" = run ] && echo passed || echo "dry-run ok")
        else status=$([ "$MODE" = run ] && echo failed || echo "dry-run failed"); fi
        tsv step "$name" "$status" "$(($(now) - s0))" "$STEP_PROBLEMS problem(s)"
        summary
    done
    tsv env end_epoch "$(now)"
    local src=0
    summary --final || src=$?
    echo "== gpu_verify $MODE finished after $(($(now) - t0))s: $PROBLEMS problem(s); summary: $OUTDIR/summary.md"
    [ "$src" -eq 0 ] || echo "gpu_verify: the summary reports missing or inconsistent results (exit $src; see summary.md)"
    [ "$PROBLEMS" -eq 0 ] && [ "$src" -eq 0 ]
}

case "${1:-}" in
    build) shift; build "$@" ;;
    pack) [ $# -eq 3 ] || usage; pack "$2" "$3" ;;
    run) execute run "${OUT:-$ROOT/build-gpu/verify}" "${2:-$ROOT/build-gpu/dist}" ;;
    dry-run) [ $# -ge 2 ] || usage; execute dry-run "$2" "${3:-$ROOT/build-gpu/dist}" ;;
    *) usage ;;
esac
