#!/usr/bin/env bash
# CPU training-step benchmark, ichseg vs PyTorch, side by side on this machine in one run, in FP32 and in BF16
# mixed precision (ichseg: Precision::BF16, benchmarks/bench_train_step.cpp; PyTorch: torch.autocast("cpu",
# dtype=torch.bfloat16), benchmarks/reference/train_step.py).
# Each run is its own process (so peak memory is per workload), and every round runs ichseg and PyTorch back to back
# for each workload and precision, so that the machine's drift hits both alike. Single rounds swing by +-10 % on
# shared machines: the table gives the median over the rounds of ms/step and of the per-round ratio.
# Usage: tools/bench.sh [seconds-per-run] [threads] [rounds] [precisions]
#        (defaults 8, all cores, 3, "fp32 bf16"; needs python3 with torch for the PyTorch side)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${1:-8}"
THREADS="${2:-$(nproc)}"
ROUNDS="${3:-3}"
PRECISIONS="${4:-fp32 bf16}"
bash tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j "$(nproc)" --target bench_train_step > /dev/null
OUT="$(mktemp -d)"
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512_bf16|amx_bf16|amx_tile)$' | xargs)
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) (family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | xargs), model $(grep -m1 '^model' /proc/cpuinfo | cut -d: -f2 | xargs)), $(nproc) cores; ISA: $flags"
echo "threads $THREADS, $SECONDS_PER_RUN s per run, $ROUNDS rounds; $(date -u '+%F %H:%M UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 -c "import torch; print('pytorch', torch.__version__, '| oneDNN CPU capability', torch.backends.cpu.get_cpu_capability())"
for round in $(seq 1 "$ROUNDS"); do
    for w in paper small; do
        for p in $PRECISIONS; do
            name="unet_train_step"
            [ "$p" = bf16 ] && name="unet_train_step_bf16"
            OMP_NUM_THREADS="$THREADS" ./build/benchmarks/bench_train_step --benchmark_filter="^$name/$w/" \
                --benchmark_min_time="${SECONDS_PER_RUN}" --benchmark_format=json > "$OUT/ichseg_${w}_${p}_$round.json"
            python3 benchmarks/reference/train_step.py "$w" --threads "$THREADS" --seconds "$SECONDS_PER_RUN" \
                --precision "$p" > "$OUT/torch_${w}_${p}_$round.json"
        done
    done
done
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$OUT" "$ROUNDS" "$PRECISIONS" <<'PY'
import json, statistics, sys
out, rounds, precisions = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
kernels = {0: 'none (FP32)', 1: 'AVX512_BF16', 2: 'AMX'}
print("| workload | precision | ichseg ms/step (median) | PyTorch ms/step (median) | PyTorch / ichseg per round "
      "| median ratio | ichseg peak RSS delta MB | PyTorch peak RSS delta MB |")
print("|---|---|---|---|---|---|---|---|")
ichseg_ms = {}
for w in ("paper", "small"):
    for p in precisions:
        ich = [json.load(open(f"{out}/ichseg_{w}_{p}_{r}.json"))["benchmarks"][0] for r in range(1, rounds + 1)]
        pt = [json.load(open(f"{out}/torch_{w}_{p}_{r}.json")) for r in range(1, rounds + 1)]
        ims = [b["real_time"] for b in ich]
        pms = [q["ms_per_step_median"] for q in pt]
        ratios = [b / a for a, b in zip(ims, pms)]
        ichseg_ms[(w, p)] = statistics.median(ims)
        label = p if p == "fp32" else f"{p} ({kernels.get(int(ich[0].get('bf16_kernel', 0)), '?')})"
        print(f"| unet_train_step/{w} | {label} | {statistics.median(ims):.1f} | {statistics.median(pms):.1f} | "
              + ", ".join(f"{r:.2f}x" for r in ratios) + f" | **{statistics.median(ratios):.2f}x** | "
              f"{max(b['peak_rss_delta_MB'] for b in ich):.0f} | {max(q['peak_rss_delta_MB'] for q in pt):.0f} |")
for w in ("paper", "small"):
    if (w, "fp32") in ichseg_ms and (w, "bf16") in ichseg_ms:
        print(f"ichseg {w}: bf16 is {ichseg_ms[(w, 'fp32')] / ichseg_ms[(w, 'bf16')]:.2f}x faster than fp32 "
              "(medians)")
PY
