#!/usr/bin/env python3
"""Writes tests/tools/fixtures/gpu_run/: the output folder of a complete, passing `tools/gpu_verify.sh run` as the
summary test reads it. The numbers are INVENTED (no GPU has run this code); the formats are real:
  - bench.json: Google Benchmark 1.7.1 JSON documents exactly as its JSON reporter writes them (key order, the
    "%.16e" doubles, the context block with the custom ichseg_* keys, "/manual_time" names, repetitions with
    _mean/_median/_stddev/_cv aggregate rows), copied from a real run of build/benchmarks/bench_train_step
    --benchmark_format=json --benchmark_repetitions=2 on the developer machine. The losses document uses the
    older per-benchmark MinTime names ("/min_time:0.200/manual_time") to cover that suffix too.
  - verify.log / sanitizer.log: Catch2 v2.13 console output (--durations yes) and compute-sanitizer summaries,
    between the '---- [step] label' lines that gpu_verify.sh writes.
  - run.tsv, torch.jsonl: as gpu_verify.sh and benchmarks/reference/gpu_common.emit write them.
usage: python3 tests/tools/make_gpu_summary_fixture.py   (rewrites the folder)
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'benchmarks', 'reference'))
import gpu_unet_layers as UL  # noqa: E402

OUT = os.path.join(HERE, 'fixtures', 'gpu_run')
DEVICE = 'NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)'
DATE = '2026-12-05T10:00:00+00:00'


def d(x):
    return format(x, '.16e')


def kv(key, value, indent):
    if isinstance(value, bool):
        v = 'true' if value else 'false'
    elif isinstance(value, int):
        v = str(value)
    elif isinstance(value, float):
        v = d(value)
    else:
        v = json.dumps(value)
    return f'{indent}"{key}": {v}'


def document(executable, rows, cudnn='available', set_='compact'):
    ctx = f'''{{
  "context": {{
    "date": "{DATE}",
    "host_name": "gpu-host",
    "executable": "{executable}",
    "num_cpus": 16,
    "mhz_per_cpu": 3000,
    "cpu_scaling_enabled": false,
    "caches": [
      {{
        "type": "Data",
        "level": 1,
        "size": 49152,
        "num_sharing": 2
      }},
      {{
        "type": "Instruction",
        "level": 1,
        "size": 32768,
        "num_sharing": 2
      }},
      {{
        "type": "Unified",
        "level": 2,
        "size": 2097152,
        "num_sharing": 2
      }},
      {{
        "type": "Unified",
        "level": 3,
        "size": 110100480,
        "num_sharing": 32
      }}
    ],
    "load_avg": [1.25,0.81934,0.5],
    "library_build_type": "debug",
    "ichseg_cudnn": "{cudnn}",
    "ichseg_device": "{DEVICE}",
    "ichseg_set": "{set_}"
  }},
  "benchmarks": [
'''
    body = []
    for r in rows:
        body.append('    {\n' + ',\n'.join(kv(k, v, '      ') for k, v in r) + '\n    }')
    return ctx + ',\n'.join(body) + '\n  ]\n}\n'


def iteration(name, family, ms_or_us, unit, iters, counters, reps=1, rep=0):
    rows = [('name', name), ('family_index', family), ('per_family_instance_index', 0), ('run_name', name),
            ('run_type', 'iteration'), ('repetitions', reps), ('repetition_index', rep), ('threads', 1),
            ('iterations', iters), ('real_time', float(ms_or_us)), ('cpu_time', float(ms_or_us) * 1.02 + 0.01),
            ('time_unit', unit)]
    return rows + [(k, float(v)) for k, v in sorted(counters.items())]


def aggregates(name, family, values, unit, iters, counters):
    import statistics
    mean, med = statistics.mean(values), statistics.median(values)
    sd = statistics.stdev(values)
    out = []
    for agg, v, aunit in (('mean', mean, 'time'), ('median', med, 'time'), ('stddev', sd, 'time'),
                          ('cv', sd / mean, 'percentage')):
        rows = [('name', f'{name}_{agg}'), ('family_index', family), ('per_family_instance_index', 0),
                ('run_name', name), ('run_type', 'aggregate'), ('repetitions', len(values)), ('threads', 1),
                ('aggregate_name', agg), ('aggregate_unit', aunit), ('iterations', len(values)),
                ('real_time', float(v)), ('cpu_time', float(v) * 1.02), ('time_unit', unit)]
        zero = agg in ('stddev', 'cv')
        out.append(rows + [(k, 0.0 if zero else float(c)) for k, c in sorted(counters.items())])
    return out


# invented GPU ms per step: ichseg fp32/tf32/bf16, cuDNN convs fp32/tf32
STEP_MS = {'ichseg/fp32': 92.4, 'ichseg/tf32': 24.8, 'ichseg/bf16': 17.9, 'cudnn-conv/fp32': 71.2,
           'cudnn-conv/tf32': 16.3}
TORCH_STEP_MS = {'fp32': 63.0, 'tf32': 14.1, 'bf16': 8.7}
TFLOPS = {'ichseg/tf32': 90.0, 'ichseg/bf16': 140.0, 'cudnn/tf32': 150.0, 'ichseg/fp32': 30.0, 'cudnn/fp32': 35.0}
TORCH_TFLOPS = {'tf32': 150.0, 'bf16': 300.0, 'fp32': 35.0}
ROLE_FACTOR = {'fprop': 1.0, 'dgrad': 0.92, 'wgrad': 0.81}


def layer_us(layer, role, key):
    return UL.flops(layer) / (TFLOPS[key] * ROLE_FACTOR[role] * 1e12) * 1e6


def main():
    os.makedirs(OUT, exist_ok=True)
    dist = '/root/repo/build-gpu/dist/bin/'
    # bench.json: the training step (3 repetitions + aggregates), the compact layers, the losses
    rows, fam = [], 0
    for key, ms in STEP_MS.items():
        name = f'unet_train_step/b32_256/{key}/manual_time'
        vals = [ms * f for f in (1.004, 0.998, 1.001)]
        ctr = {'loss': 0.7123, 'pool_peak_MB': {'fp32': 9120.0, 'tf32': 9120.0, 'bf16': 9180.0}[key.split('/')[1]]}
        for rep, v in enumerate(vals):
            rows.append(iteration(name, fam, v, 'ms', 21 if 'fp32' not in key else 6, ctr, reps=3, rep=rep))
        rows += aggregates(name, fam, vals, 'ms', 3, ctr)
        fam += 1
    docs = [document(dist + 'bench_cuda_train_step', rows)]
    rows, fam = [], 0
    by_name = {l[0]: l for l in UL.layers()}
    for n in UL.cpp_names('compact'):
        _, lname, role, backend, prec = n.split('/')
        us = layer_us(by_name[lname], role, f'{backend}/{prec}')
        rows.append(iteration(n + '/manual_time', fam, us, 'us', max(int(50000 / us), 1),
                              {'TFLOPs': UL.flops(by_name[lname]) / us / 1e6}))
        fam += 1
    docs.append(document(dist + 'bench_cuda_layers', rows))
    rows = [iteration('loss/nt_xent/60x2x128/min_time:0.200/manual_time', 0, 41.5, 'us', 4800, {}),
            iteration('loss/dice/32x256x256/min_time:0.200/manual_time', 1, 88.25, 'us', 2300, {})]
    docs.append(document(dist + 'bench_cuda_losses', rows))
    with open(os.path.join(OUT, 'bench.json'), 'w') as f:
        f.write(''.join(docs))

    # torch.jsonl
    lines = []
    common = {'framework': 'pytorch', 'torch': '2.11.0+cu130', 'device': 'NVIDIA H100 80GB HBM3'}
    for m, ms in TORCH_STEP_MS.items():
        lines.append(dict(bench='unet_train_step', batch=32, mode=m, ms=ms, peak_MB=7400.5, **common))
    for m in UL.TORCH_MODES['compact']:
        for layer in UL.selected('compact'):
            for role in UL.ROLES:
                ms = UL.flops(layer) / (TORCH_TFLOPS[m] * ROLE_FACTOR[role] * 1e12) * 1e3
                lines.append(dict(bench='conv', layer=layer[0], role=role, mode=m, ms=ms,
                                  tflops=UL.flops(layer) / ms / 1e9, **common))
    lines.append(dict(bench='loss', name='nt_xent/60x2x128', ms=0.095, **common))
    lines.append(dict(bench='loss', name='dice/32x256x256', ms=0.21, **common))
    with open(os.path.join(OUT, 'torch.jsonl'), 'w') as f:
        for ln in lines:
            f.write(json.dumps({k: ln[k] for k in ln if k not in common} | common) + '\n')

    # run.tsv, verify.log, sanitizer.log
    plan = [('env', 15, 'device, driver, CUDA, cuDNN, PyTorch and compute-sanitizer versions'),
            ('tests', 145, '[cuda] correctness tests against the CPU and cuDNN, all but [large]'),
            ('train-step', 60, '[large]: full training steps GPU vs CPU (paper U-Net), bitwise determinism, step '
                               'through cuDNN'),
            ('memcheck', 45, 'compute-sanitizer memcheck'), ('racecheck', 45, 'compute-sanitizer racecheck'),
            ('bench-step', 45, 'ichseg U-Net training step'), ('torch-step', 30, 'PyTorch training step'),
            ('bench-layers', 40, 'compact layer set'), ('torch-layers', 35, 'PyTorch compact layer set'),
            ('rest', 0, 'while time remains')]
    tsv, t = [], 0
    for name, share, what in plan:
        t += share
        tsv.append(['plan', name, str(share), str(t), what])
    env = [('start_epoch', '1796464800'), ('mode', 'run'), ('date', '2026-12-05T10:00:00Z'), ('budget_s', '480'),
           ('build_commit', '0123456789abcdef0123456789abcdef01234567'),
           ('build_nvcc', 'Build cuda_13.0.r13.0/compiler.36424714_0'),
           ('build_cuda_architectures', 'code=[compute_90,sm_90]'), ('build_cxx_flags', '-march=x86-64-v3 native=OFF'),
           ('build_static_cudart', 'ON'), ('host_cpu', 'Intel(R) Xeon(R) Platinum 8480+ x 16'),
           ('gpu', 'NVIDIA H100 80GB HBM3, 81559 MiB, 1980 MHz'), ('driver', '580.159.04'), ('driver_cuda', '13.0'),
           ('compute_sanitizer', '/usr/local/cuda/bin/compute-sanitizer Version 2025.3.1'),
           ('torch', '2.11.0+cu130 cuda 13.0 cudnn 91300 gpu True'),
           ('cudnn_library', '/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib')]
    tsv += [['env', k, v] for k, v in env]
    log, slog = [], []
    tests = {'tests': [('test_cuda ~[large]', 17, 38), ('test_cuda_checks ~[large]', 6, 6),
                       ('test_cuda_cudnn_step ~[large]', 1, 3), ('test_cuda_cudnn (all)', 2, 27),
                       ('test_cuda_study (all)', 4, 21)],
             'train-step': [('test_cuda [large]', 2, 9), ('test_cuda_checks [large]', 1, 4),
                            ('test_cuda_cudnn_step [large]', 2, 6)]}
    san = {'memcheck': [('test_cuda_checks [tiles],[views]', 12), ('test_cuda [conv2d],[conv_transpose2d]', 15),
                        ('test_cuda ~[large]~[conv2d]~[conv_transpose2d]', 17)],
           'racecheck': [('test_cuda_checks [tiles]', 14), ('test_cuda [conv2d]', 15),
                         ('test_cuda [batchnorm2d],[pool],[loss]', 12)]}
    timeout = {'tests': 145, 'train-step': 60, 'memcheck': 45, 'racecheck': 45}
    for step, _, _ in plan:
        tsv.append(['step', step, 'running', '0', ''])
        for label, n, secs in tests.get(step, []):
            tsv.append(['cases', step, label, str(n)])
            log.append(f'\n---- [{step}] {label} (timeout {timeout[step]}s)')
            log.append(f'$ /root/repo/build-gpu/dist/bin/{label.split()[0]} ... -w NoTests --durations yes')
            log.append(f'ichseg [cuda] tests on {DEVICE}')
            log += [f'{0.5 + i:.3f} s: test case {i + 1} of {label}' for i in range(n)]
            log.append('=' * 79)
            log.append(f'All tests passed ({40 * n + 3} assertions in {n} test case{"s" if n > 1 else ""})')
            log.append('')
            log.append(f'---- [{step}] {label}: exit code 0 after {secs}s')
            tsv.append(['cmd', step, label, '0', str(secs), str(timeout[step]), ''])
        for label, secs in san.get(step, []):
            tsv.append(['cases', step, label, '3'])
            full = f'{step}: {label}'
            slog.append(f'\n---- [{step}] {full} (timeout 15s)')
            slog.append('$ env ICHSEG_CUDA_TEST_SMALL=1 /usr/local/cuda/bin/compute-sanitizer --tool ' + step + ' ...')
            slog.append('========= COMPUTE-SANITIZER')
            slog.append(f'ichseg [cuda] tests on {DEVICE}')
            slog.append('=' * 79)
            slog.append('All tests passed (310 assertions in 3 test cases)')
            slog.append('')
            slog.append('========= RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)' if step == 'racecheck'
                        else '========= ERROR SUMMARY: 0 errors')
            slog.append(f'---- [{step}] {full}: exit code 0 after {secs}s')
            tsv.append(['cmd', step, full, '0', str(secs), '15', ''])
        if step == 'bench-step':
            tsv.append(['cmd', step, 'bench_cuda_train_step --benchmark_min_time=0.5 --benchmark_repetitions=3', '0',
                        '31', '45', ''])
        if step == 'torch-step':
            tsv.append(['cmd', step, 'gpu_train_step.py', '0', '19', '30', ''])
        if step == 'bench-layers':
            tsv.append(['cmd', step, 'bench_cuda_layers --benchmark_min_time=0.05', '0', '36', '40', ''])
        if step == 'torch-layers':
            tsv.append(['cmd', step, 'gpu_layers.py --set compact', '0', '28', '35', ''])
        if step == 'rest':
            tsv.append(['cmd', step, 'bench_cuda_losses --benchmark_min_time=0.2', '0', '3', '60', ''])
            tsv.append(['cmd', step, 'gpu_losses.py', '0', '6', '30', ''])
        tsv.append(['step', step, 'passed', '1', '0 problem(s)'])
    tsv.append(['env', 'end_epoch', '1796465232'])
    with open(os.path.join(OUT, 'run.tsv'), 'w') as f:
        f.write(''.join('\t'.join(r) + '\n' for r in tsv))
    with open(os.path.join(OUT, 'verify.log'), 'w') as f:
        f.write('\n'.join(log) + '\n')
    with open(os.path.join(OUT, 'sanitizer.log'), 'w') as f:
        f.write('\n'.join(slog) + '\n')


if __name__ == '__main__':
    main()
