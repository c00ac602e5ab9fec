#!/usr/bin/env bash
# CPU training-step benchmark, ichseg vs PyTorch, side by side on this machine in one run.
# Each workload runs in its own process (so peak memory is per workload), ichseg and PyTorch alternating.
# Usage: tools/bench.sh [seconds-per-run] [threads]     (needs python3 with torch for the PyTorch side)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${1:-20}"
THREADS="${2:-$(nproc)}"
bash tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j "$(nproc)" --target bench_train_step > /dev/null
OUT="$(mktemp -d)"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, threads $THREADS; $(date -u +%F)"
python3 -c "import torch; print('pytorch', torch.__version__)"
for w in paper small; do
    for round in 1 2; do
        OMP_NUM_THREADS="$THREADS" ./build/benchmarks/bench_train_step --benchmark_filter="unet_train_step/$w" \
            --benchmark_min_time="${SECONDS_PER_RUN}" --benchmark_format=json > "$OUT/ichseg_${w}_$round.json"
        python3 benchmarks/reference/train_step.py "$w" --threads "$THREADS" --seconds "$SECONDS_PER_RUN" \
            > "$OUT/torch_${w}_$round.json"
    done
done
python3 - "$OUT" <<'PY'
import glob, json, os, statistics, sys
out = sys.argv[1]
print(f"| workload | ichseg ms/step | PyTorch ms/step | speed-up | ichseg peak RSS delta MB | PyTorch peak RSS delta MB |")
print("|---|---|---|---|---|---|")
for w in ("paper", "small"):
    ich = [json.load(open(f))["benchmarks"][0] for f in sorted(glob.glob(f"{out}/ichseg_{w}_*.json"))]
    pt = [json.loads(open(f).read()) for f in sorted(glob.glob(f"{out}/torch_{w}_*.json"))]
    ims = min(b["real_time"] for b in ich)
    pms = min(p["ms_per_step_median"] for p in pt)
    imem = max(b["peak_rss_delta_MB"] for b in ich)
    pmem = max(p["peak_rss_delta_MB"] for p in pt)
    print(f"| unet_train_step/{w} | {ims:.1f} | {pms:.1f} | {pms/ims:.2f}x | {imem:.0f} | {pmem:.0f} |")
PY
