#!/usr/bin/env python3
"""Markdown summary of a tools/gpu_verify.sh run (or dry-run), for docs/performance.md.

usage: gpu_summary.py OUTDIR [--plan-only] [--final] [--stdout]

Reads what gpu_verify.sh writes into OUTDIR as it goes -- run.tsv (the plan, the environment, each command's exit
code and time), verify.log, sanitizer.log, bench.json (the Google Benchmark JSON documents of the run, appended in
order, the last one possibly cut off) and torch.jsonl -- and writes OUTDIR/summary.md: the device, driver and CUDA
versions; each step with its time budget and status; per test binary the passed / failed / skipped test cases and
the failures; the sanitizer findings; the training step against PyTorch; per-layer time against cuDNN and PyTorch.

Benchmark names are read as Google Benchmark writes them ("conv/enc0.conv2/fprop/ichseg/tf32/manual_time", with
"/min_time:0.050" when a benchmark sets its own minimum time, "_median" etc. on aggregate rows); a repeated
benchmark is reported by its median aggregate.

A table cell without a number always says why (not run, killed at its time limit, no cuDNN, dry-run). Exit code 1,
with the reasons at the top of summary.md and on stderr, when a benchmark that a finished command must report is
missing or reported an error: a benchmark command that exited 0 must have produced every name of its set, and a
PyTorch reference script that exited 0 every measurement of its set. Exit code 2: bad usage.
Run it again on a returned folder to see what finished after the last summary was written.
"""
import json
import math
import os
import re
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'benchmarks', 'reference'))
import gpu_unet_layers as UL  # noqa: E402  (no PyTorch needed)

STEP_PRECISIONS = {'ichseg': ('fp32', 'tf32', 'bf16'), 'cudnn-conv': ('fp32', 'tf32')}
LOSS_NAMES = ('loss/nt_xent/60x2x128', 'loss/dice/32x256x256')
TORCH_STEP_MODES = ('fp32', 'tf32', 'bf16')
SUFFIX = re.compile(r'(/(min_time|min_warmup_time):[0-9.]+[sx]?|/iterations:\d+|/repeats:\d+|/threads:\d+|'
                    r'/manual_time|/real_time|/process_time)+$')
UNIT_MS = {'ns': 1e-6, 'us': 1e-3, 'ms': 1.0, 's': 1e3}
DASHES = re.compile(r'-{70,}')


def step_names(have_cudnn):
    return [f'unet_train_step/b32_256/{convs}/{p}' for convs, precs in STEP_PRECISIONS.items()
            for p in precs if have_cudnn or convs == 'ichseg']


def base_name(b):
    """The registered name of a benchmark row, without Google Benchmark's suffixes and aggregate tag."""
    if b.get('run_name'):
        return SUFFIX.sub('', b['run_name'])
    name = b['name']
    agg = b.get('aggregate_name')
    if agg and name.endswith('_' + agg):
        name = name[: -len(agg) - 1]
    return SUFFIX.sub('', name)


def fmt(x, nd=2):
    return f'{x:.{nd}f}'


def fmt_us(ms):
    """Milliseconds as microseconds with 3 significant digits at least."""
    us = ms * 1e3
    return f'{us:.0f}' if us >= 100 else f'{us:.1f}' if us >= 1 else f'{us:.3f}'


# ---- inputs ----------------------------------------------------------------------------------------------------
def read_tsv(path):
    rows = []
    if os.path.exists(path):
        with open(path, errors='replace') as f:
            rows = [line.rstrip('\n').split('\t') for line in f if line.strip()]
    return rows


def json_documents(text):
    """The JSON documents of a file holding several one after another. Of a last, cut-off document the context
    and every complete benchmark object are recovered (Google Benchmark writes one benchmark at a time).
    Returns (documents, whether the last one was cut off)."""
    dec = json.JSONDecoder()
    docs, i = [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return docs, False
        try:
            doc, i = dec.raw_decode(text, i)
            docs.append(doc)
        except json.JSONDecodeError:
            break
    rest, partial = text[i:], {'context': {}, 'benchmarks': []}
    m = re.search(r'"context"\s*:\s*', rest)
    if m:
        try:
            partial['context'] = dec.raw_decode(rest, m.end())[0]
        except json.JSONDecodeError:
            pass
    m = re.search(r'"benchmarks"\s*:\s*\[', rest)
    if m:
        j = m.end()
        while True:
            while j < len(rest) and rest[j] in ' \t\r\n,':
                j += 1
            try:
                b, j = dec.raw_decode(rest, j)
            except json.JSONDecodeError:
                break
            partial['benchmarks'].append(b)
    docs.append(partial)
    return docs, True


class Bench:
    """Google Benchmark results by registered name: GPU time in ms (median aggregate, else the median of the
    iteration rows), the row with the counters, or the error."""

    def __init__(self, path):
        self.docs, self.cut_off = [], False
        if os.path.exists(path):
            with open(path, errors='replace') as f:
                self.docs, self.cut_off = json_documents(f.read())
        self.rows = {}
        for d in self.docs:
            for b in d.get('benchmarks', []):
                self.rows.setdefault(base_name(b), []).append(b)

    def get(self, name):
        """None when absent; (ms, row) when measured; (None, row) when it reported an error."""
        rows = self.rows.get(name)
        if not rows:
            return None
        errors = [r for r in rows if r.get('error_occurred')]
        if errors:
            return None, errors[0]
        med = [r for r in rows if r.get('run_type') == 'aggregate' and r.get('aggregate_name') == 'median']
        its = [r for r in rows if r.get('run_type', 'iteration') == 'iteration']
        if med:
            r = med[0]
            return r['real_time'] * UNIT_MS[r.get('time_unit', 'ns')], r
        if its:
            return statistics.median(x['real_time'] * UNIT_MS[x.get('time_unit', 'ns')] for x in its), its[0]
        return None

    def ms(self, name):
        g = self.get(name)
        return g[0] if g else None

    def context(self, key):
        for d in self.docs:
            if key in d.get('context', {}):
                return d['context'][key]
        return None


def read_jsonl(path):
    out = []
    if os.path.exists(path):
        with open(path, errors='replace') as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    return out


def log_sections(path):
    """{(step, label): lines} of the '---- [step] label' blocks that gpu_verify.sh writes around each command."""
    out, cur = {}, None
    if not os.path.exists(path):
        return out
    start = re.compile(r'^---- \[([^\]]+)\] (.*) \(timeout \d+s\)$')
    end = re.compile(r'^---- \[([^\]]+)\] (.*): exit code \S+ after \d+s$')
    with open(path, errors='replace') as f:
        for line in f:
            line = line.rstrip('\n')
            m = start.match(line)
            if m:
                cur = (m.group(1), m.group(2))
                out[cur] = []
            elif end.match(line):
                cur = None
            elif cur:
                out[cur].append(line)
    return out


def catch_results(lines):
    """(passed, failed, complete, failures) from Catch2 v2 console output run with --durations yes. Without the
    final totals (a killed binary) the counts are those of the test cases that finished."""
    failures, name, i = [], None, 0
    while i < len(lines):
        ln = lines[i]
        if DASHES.fullmatch(ln) and i + 1 < len(lines) and not DASHES.fullmatch(lines[i + 1]):
            j, parts = i + 1, []
            while j < len(lines) and not DASHES.fullmatch(lines[j]):
                parts.append(lines[j].strip())
                j += 1
            name = ' / '.join(p for p in parts if p)
            i = j + 1
            continue
        m = re.match(r'^(.*:\d+): FAILED:$', ln)
        if m:
            detail = []
            for x in lines[i + 1:i + 10]:
                if re.match(r'^\d+\.\d+ s: ', x) or DASHES.fullmatch(x) or re.match(r'^.*:\d+: FAILED:$', x):
                    break
                if x.strip():
                    detail.append(x.strip())
            failures.append((name or '?', os.path.basename(m.group(1)), ' | '.join(detail)[:400]))
        i += 1
    text = '\n'.join(lines)
    m = re.search(r'All tests passed \(\d+ assertions? in (\d+) test cases?\)', text)
    if m:
        return int(m.group(1)), 0, True, failures
    m = re.search(r'test cases?:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed', text)
    if m:
        return int(m.group(2)), int(m.group(3)), True, failures
    m = re.search(r'test cases?:\s*(\d+)\s*\|\s*(\d+) failed', text)
    if m:
        return 0, int(m.group(2)), True, failures
    finished = len([x for x in lines if re.match(r'^\d+\.\d+ s: ', x)])
    failed = len({f[0] for f in failures})
    return max(finished - failed, 0), failed, False, failures


def sanitizer_errors(lines):
    """(errors, complete) from compute-sanitizer output; without its final summary, the reports printed."""
    text = '\n'.join(lines)
    m = re.search(r'RACECHECK SUMMARY: \d+ hazards? displayed \((\d+) errors?', text)
    if m:
        return int(m.group(1)), True
    m = re.search(r'ERROR SUMMARY: (\d+) errors?', text)
    if m:
        return int(m.group(1)), True
    return len([x for x in lines if re.match(r'^========= (Invalid|Error|Program hit|Race|Uninitialized|Barrier)', x)]), False


# ---- the report ------------------------------------------------------------------------------------------------
class Report:
    def __init__(self, out, flags):
        self.out, self.flags = out, flags
        rows = read_tsv(os.path.join(out, 'run.tsv'))
        self.env = {r[1]: (r[2] if len(r) > 2 else '') for r in rows if r[0] == 'env' and len(r) > 1}
        self.plan = [r for r in rows if r[0] == 'plan']
        self.steps = {r[1]: r[2:] for r in rows if r[0] == 'step'}
        self.cmds = [r + [''] * (7 - len(r)) for r in rows if r[0] == 'cmd']
        self.cases = {(r[1], r[2]): int(r[3]) for r in rows if r[0] == 'cases'}
        self.problems = [(r[1], r[2] if len(r) > 2 else '') for r in rows if r[0] == 'problem']
        self.dry = self.env.get('mode') == 'dry-run'
        self.bench = Bench(os.path.join(out, 'bench.json'))
        self.torch = read_jsonl(os.path.join(out, 'torch.jsonl'))
        cudnn = self.bench.context('ichseg_cudnn')
        self.have_cudnn = cudnn is None or cudnn == 'available'
        self.pt_conv = {(t.get('layer'), t.get('role'), t.get('mode')): t['ms'] for t in self.torch
                        if t.get('bench') == 'conv' and 'ms' in t}
        self.pt_step = {t.get('mode'): t for t in self.torch if t.get('bench') == 'unet_train_step' and 'ms' in t}
        self.pt_loss = {t.get('name'): t for t in self.torch if t.get('bench') == 'loss' and 'ms' in t}
        self.errors = []
        self.L = []

    # -- commands and reasons
    def cmd(self, pred):
        for c in self.cmds:
            if pred(c[2]):
                return c
        return None

    def absent(self, cmd, step):
        """Why a value that cmd (in step) would have produced is not there."""
        if cmd is None:
            st = self.steps.get(step)
            if not st:
                return 'not run (step not reached)'
            if st[0] == 'running':
                return 'not run (the run ended in this step)' if '--final' in self.flags else 'running'
            return f'not run ({st[0]})'
        rc = cmd[3]
        if rc in ('124', '137'):
            return 'killed at its time limit'
        if rc == '125':
            return 'not run (no time left)'
        if rc == '77':
            return 'dry-run (no GPU)' if self.dry else 'no GPU (exit code 77)'
        if rc == '-':
            return cmd[6] or 'skipped'
        if rc == '0':
            return 'MISSING'
        return f'exit code {rc}'

    def require(self, cmd, names, what):
        """A benchmark command that exited 0 must have reported every name of its set, without error."""
        if cmd is None or cmd[3] != '0':
            return
        tool = cmd[2].split()[0]
        for n in names:
            g = self.bench.get(n)
            if g is None:
                self.errors.append(f'{what}: benchmark {n} is missing from bench.json although {tool} exited 0')
            elif g[0] is None:
                self.errors.append(f'{what}: benchmark {n} reported an error: {g[1].get("error_message", "?")}')

    def require_torch(self, cmd, keys, table, what):
        if cmd is None or cmd[3] != '0':
            return
        for k in keys:
            if k not in table:
                self.errors.append(f'{what}: PyTorch {" ".join(k) if isinstance(k, tuple) else k} is missing from '
                                   f'torch.jsonl although {cmd[2].split()[0]} exited 0')

    def cell(self, name, cmd, step, us=False):
        """(value in ms or None, text for the table: ms, or us when us=True)."""
        g = self.bench.get(name)
        if g is None:
            if '/cudnn' in name and not self.have_cudnn:
                return None, 'no cuDNN'
            return None, self.absent(cmd, step)
        if g[0] is None:
            return None, 'error: ' + str(g[1].get('error_message', '?'))[:80]
        return g[0], fmt_us(g[0]) if us else fmt(g[0])

    # -- sections
    def result(self):
        final = '--final' in self.flags
        if '--plan-only' in self.flags:
            return 'PLANNED (no step has run yet)'
        running = [n for n, s in self.steps.items() if s and s[0] == 'running']
        if running:
            return (f'INCOMPLETE: the run ended during step {running[0]}' if final
                    else f'IN PROGRESS (written while step {running[0]} was running)')
        bad = [n for n, s in self.steps.items() if s and s[0] not in ('passed', 'dry-run ok', 'not selected')]
        chosen = [n for n, s in self.steps.items() if s and s[0] != 'not selected']
        if self.dry:
            r = ('DRY-RUN OK: every step started its binaries, which reported no GPU; no result below is a measurement'
                 if not bad and not self.problems else f'DRY-RUN FAILED ({len(self.problems)} problem(s))')
        else:
            r = ('PASSED' if not bad and not self.problems else
                 f'FAILED ({len(self.problems)} problem(s); steps not passed: {", ".join(bad) or "none"})')
        if len(chosen) < len(self.steps):
            r += f' (steps run: {", ".join(chosen)}; the others were not selected)'
        return r if final else r + ' so far'

    def header(self):
        env, L = self.env, self.L
        elapsed = ''
        if 'start_epoch' in env and env.get('end_epoch'):
            elapsed = f', {int(env["end_epoch"]) - int(env["start_epoch"])} s elapsed'
        title = 'GPU verification dry-run (no GPU)' if self.dry else 'GPU verification'
        L.append(f'## {title}: {env.get("gpu", "?")}, {env.get("date", "?")}\n')
        L.append(f'`tools/gpu_verify.sh {env.get("mode", "?")}`, budget {env.get("budget_s", "?")} s{elapsed}. '
                 f'**Result: {self.result()}.**\n')
        L.append('| item | value |\n|---|---|')
        for key, label in (('gpu', 'GPU (nvidia-smi: name, memory, max SM clock)'), ('driver', 'driver'),
                           ('driver_cuda', 'CUDA version of the driver'), ('build_nvcc', 'binaries built with'),
                           ('build_cuda_architectures', 'GPU code'), ('build_static_cudart', 'static CUDA runtime'),
                           ('build_cxx_flags', 'host code flags'), ('build_commit', 'commit'),
                           ('cudnn_library', 'cuDNN / cuBLAS from'), ('torch', 'PyTorch'),
                           ('compute_sanitizer', 'compute-sanitizer'), ('host_cpu', 'host CPU'), ('glibc', 'C library')):
            if key in env:
                L.append(f'| {label} | {env[key] or "?"} |')
        for key, label in (('ichseg_device', 'ichseg sees'), ('ichseg_cudnn', 'cuDNN (benchmarks)')):
            v = self.bench.context(key)
            if v:
                L.append(f'| {label} | {v} |')
        L.append('')

    def steps_table(self):
        L = self.L
        L.append('### Steps, in priority order (a step may use the time earlier steps left, never a later step\'s)\n')
        L.append('| # | step | budget s | deadline s | status | took s | what |')
        L.append('|---|---|---|---|---|---|---|')
        for i, p in enumerate(self.plan):
            name, share, deadline, what = (p + [''] * 5)[1:5]
            st = self.steps.get(name)
            if not st:
                status = 'planned' if '--plan-only' in self.flags else 'not reached'
            elif st[0] == 'running':
                status = 'interrupted' if '--final' in self.flags else 'running'
            else:
                status = st[0] + (f' ({st[2]})' if len(st) > 2 and st[2] and st[0] == 'not run' else '')
            if st and st[0] != 'running' and len(st) > 1:
                took = st[1]
            else:
                took = 'cut off' if st else 'not run'
            L.append(f'| {i + 1} | {name} | {share} | {deadline} | {status} | {took} | {what} |')
        L.append('')
        if self.problems:
            L.append('Problems:\n')
            L += [f'- {s}: {t}' for s, t in self.problems]
            L.append('')

    def tests(self):
        log = log_sections(os.path.join(self.out, 'verify.log'))
        cmds = [c for c in self.cmds if c[2].startswith('test_cuda')]
        if not cmds:
            return
        L, failures = self.L, []
        L.append('### [cuda] tests\n')
        L.append('| step | binary and filter | cases | passed | failed | skipped | exit | s |')
        L.append('|---|---|---|---|---|---|---|---|')
        for c in cmds:
            step, label, rc, secs = c[1], c[2], c[3], c[4]
            n = self.cases.get((step, label), 0)
            note = ''
            if rc in ('77', '125'):
                p, f, sk = 0, 0, n
                note = ' (not run: no time left)' if rc == '125' else ''
            else:
                p, f, complete, fails = catch_results(log.get((step, label), []))
                sk = 0
                failures += [(label,) + x for x in fails]
                if not complete:
                    note = f' ({self.absent(c, step)}: counts of the cases that finished)'
            L.append(f'| {step} | {label}{note} | {n} | {p} | {f} | {sk} | {rc} | {secs} |')
        L.append('')
        if failures:
            L.append('Failures (binary: test case, where, assertion and messages):\n')
            L += [f'- {label.split()[0]}: **{name}**, {where}: `{what}`' for label, name, where, what in failures[:40]]
            if len(failures) > 40:
                L.append(f'- ... {len(failures) - 40} more in verify.log')
            L.append('')

    def sanitizers(self):
        log = log_sections(os.path.join(self.out, 'sanitizer.log'))
        cmds = [c for c in self.cmds if re.match(r'(memcheck|racecheck|synccheck|initcheck):', c[2])]
        if not cmds:
            return
        L = self.L
        L.append('### compute-sanitizer (small shapes: ICHSEG_CUDA_TEST_SMALL=1)\n')
        L.append('| tool: binary and filter | errors | exit | s |')
        L.append('|---|---|---|---|')
        for c in cmds:
            label, rc, secs = c[2], c[3], c[4]
            if rc in ('77', '125', '-') or 'binary alone' in label:
                errs = self.absent(c, c[1])
            else:
                n, complete = sanitizer_errors(log.get((c[1], label), []))
                errs = str(n) if complete else f'{n} reported before it ended ({self.absent(c, c[1])})'
            L.append(f'| {label} | {errs} | {rc} | {secs} |')
        L.append('')
        reports = []
        for c in cmds:
            for x in log.get((c[1], c[2]), []):
                if re.match(r'^========= (Invalid|Error|Program hit|Race|Uninitialized|Barrier)', x) and x not in reports:
                    reports.append(x)
        if reports:
            L.append('First sanitizer reports (all of them in sanitizer.log):\n')
            L += [f'    {x}' for x in reports[:12]]
            L.append('')

    def train_step(self):
        L, b = self.L, self.bench
        c = self.cmd(lambda s: s.startswith('bench_cuda_train_step'))
        ct = self.cmd(lambda s: s.startswith('gpu_train_step.py'))
        self.require(c, step_names(self.have_cudnn), 'training step')
        self.require_torch(ct, TORCH_STEP_MODES, self.pt_step, 'training step')
        L.append('### U-Net training step, batch 32, 256x256 (GPU ms per step, median; target: faster than PyTorch, '
                 '<= 8 ms BF16 on H100)\n')
        L.append('| precision | ichseg | ichseg + cuDNN convs | PyTorch eager + cuDNN | ichseg / PyTorch | '
                 'ichseg pool peak MB | PyTorch peak MB |')
        L.append('|---|---|---|---|---|---|---|')
        for m in TORCH_STEP_MODES:
            name = f'unet_train_step/b32_256/ichseg/{m}'
            iv, itxt = self.cell(name, c, 'bench-step')
            ctxt = (self.cell(f'unet_train_step/b32_256/cudnn-conv/{m}', c, 'bench-step')[1]
                    if m in STEP_PRECISIONS['cudnn-conv'] else 'none (the cuDNN backend has no BF16)')
            p = self.pt_step.get(m)
            pabs = self.absent(ct, 'torch-step')
            ratio = f'{iv / p["ms"]:.2f}x' if iv is not None and p else 'needs both'
            g = b.get(name)
            pool = fmt(g[1]['pool_peak_MB'], 0) if g and g[0] is not None and 'pool_peak_MB' in g[1] else itxt
            L.append(f'| {m} | {itxt} | {ctxt} | {fmt(p["ms"]) if p else pabs} | {ratio} | {pool} | '
                     f'{fmt(p["peak_MB"], 0) if p and "peak_MB" in p else pabs} |')
        L.append('')

    def layers(self):
        L, b = self.L, self.bench
        c = self.cmd(lambda s: s.startswith('bench_cuda_layers') and '--full' not in s)
        ct = self.cmd(lambda s: s.startswith('gpu_layers.py --set compact'))
        names = UL.cpp_names('compact', self.have_cudnn)
        self.require(c, names, 'layers')
        self.require_torch(ct, [(l[0], r, m) for l in UL.selected('compact') for r in UL.ROLES
                                for m in UL.TORCH_MODES['compact']], self.pt_conv, 'layers')
        L.append('### Per-layer convolution, batch 32, compact set (GPU us, median; ratio = ichseg / baseline; '
                 'targets <= 1.0 fprop/dgrad, <= 1.2 wgrad)\n')
        if not any(b.get(n) for n in names) and not any(k[0] in UL.COMPACT for k in self.pt_conv):
            L.append(f'Nothing measured: bench_cuda_layers {self.absent(c, "bench-layers")}; gpu_layers.py '
                     f'{self.absent(ct, "torch-layers")}. The set: {len(names)} ichseg / cuDNN benchmarks over '
                     f'{len(UL.COMPACT)} layers x {len(UL.ROLES)} roles: {", ".join(UL.COMPACT)}.\n')
            return
        L.append('| layer | role | GFLOP | ichseg tf32 | cuDNN tf32 | ratio | ichseg bf16 | PyTorch bf16 | ratio | '
                 'PyTorch tf32 |')
        L.append('|---|---|---|---|---|---|---|---|---|---|')
        ratios = {}
        pabs = self.absent(ct, 'torch-layers')
        for layer in UL.selected('compact'):
            for role in UL.ROLES:
                stem = f'conv/{layer[0]}/{role}/'
                it, it_t = self.cell(stem + 'ichseg/tf32', c, 'bench-layers', us=True)
                ct_v, ct_t = self.cell(stem + 'cudnn/tf32', c, 'bench-layers', us=True)
                ib, ib_t = self.cell(stem + 'ichseg/bf16', c, 'bench-layers', us=True)
                pb, ptf = self.pt_conv.get((layer[0], role, 'bf16')), self.pt_conv.get((layer[0], role, 'tf32'))
                r1 = it / ct_v if it is not None and ct_v is not None else None
                r2 = ib / pb if ib is not None and pb is not None else None
                if r1:
                    ratios.setdefault((role, 'ichseg tf32 / cuDNN tf32'), []).append(r1)
                if r2:
                    ratios.setdefault((role, 'ichseg bf16 / PyTorch bf16'), []).append(r2)
                L.append(f'| {layer[0]} | {role} | {fmt(UL.flops(layer) / 1e9, 1)} | {it_t} | {ct_t} | '
                         f'{fmt(r1) if r1 else "needs both"} | {ib_t} | {fmt_us(pb) if pb else pabs} | '
                         f'{fmt(r2) if r2 else "needs both"} | {fmt_us(ptf) if ptf else pabs} |')
        if ratios:
            L.append('\nGeometric-mean ratio: ' + '; '.join(
                f'{k[0]} {k[1]} {math.exp(statistics.mean(math.log(x) for x in v)):.2f}'
                for k, v in sorted(ratios.items())))
        L.append('')

    def losses(self):
        c = self.cmd(lambda s: s.startswith('bench_cuda_losses'))
        if c is None:
            return
        ct = self.cmd(lambda s: s.startswith('gpu_losses.py'))
        self.require(c, LOSS_NAMES, 'losses')
        self.require_torch(ct, [n.replace('loss/', '') for n in LOSS_NAMES], self.pt_loss, 'losses')
        L = self.L
        step = self.bench.ms('unet_train_step/b32_256/ichseg/bf16')
        L.append('### Losses, value + gradient (target < 1% of a training step)\n')
        L.append('| loss | ichseg us | % of the ichseg bf16 step | PyTorch us |')
        L.append('|---|---|---|---|')
        for n in LOSS_NAMES:
            v, txt = self.cell(n, c, 'rest', us=True)
            pct = f'{100 * v / step:.2f}%' if v is not None and step else 'needs both'
            p = self.pt_loss.get(n.replace('loss/', ''))
            L.append(f'| {n} | {txt} | {pct} | {fmt_us(p["ms"]) if p else self.absent(ct, "rest")} |')
        L.append('')

    def full_layers(self):
        c = self.cmd(lambda s: s.startswith('bench_cuda_layers') and '--full' in s)
        if c is None:
            return
        names = UL.cpp_names('full', self.have_cudnn)
        self.require(c, names, 'full layer set')
        got = [n for n in names if self.bench.ms(n) is not None]
        L = self.L
        L.append(f'### Full layer set: {len(got)} of {len(names)} benchmarks measured '
                 f'({"complete" if c[3] == "0" else self.absent(c, "rest")})\n')
        if not got:
            return
        L.append('| layer | role | precision | ichseg us | cuDNN us | ratio | PyTorch us |')
        L.append('|---|---|---|---|---|---|---|')
        for layer in UL.selected('full'):
            for role in UL.ROLES:
                for p in UL.ICHSEG_PRECISIONS['full']:
                    stem = f'conv/{layer[0]}/{role}/'
                    v = self.bench.ms(stem + 'ichseg/' + p)
                    if v is None:
                        continue
                    cm = self.bench.ms(stem + 'cudnn/' + p) if p in UL.CUDNN_PRECISIONS['full'] else None
                    ctxt = fmt_us(cm) if cm else ('none (no BF16)' if p == 'bf16' else 'not measured')
                    pm = self.pt_conv.get((layer[0], role, p))
                    L.append(f'| {layer[0]} | {role} | {p} | {fmt_us(v)} | {ctxt} | '
                             f'{fmt(v / cm) if cm else "needs both"} | {fmt_us(pm) if pm else "not measured"} |')
        L.append('')

    def write(self):
        self.header()
        self.steps_table()
        if '--plan-only' not in self.flags:
            self.tests()
            self.sanitizers()
            self.train_step()
            self.layers()
            self.losses()
            self.full_layers()
            if self.bench.cut_off:
                self.L.append('(bench.json ends inside a Google Benchmark document: its finished benchmarks are '
                              'used.)\n')
        L = self.L
        if self.errors:
            L.insert(0, '**SUMMARY ERRORS: results that finished commands must have produced are missing or '
                        'failed:**\n\n' + '\n'.join(f'- {e}' for e in self.errors) + '\n')
        text = '\n'.join(L) + '\n'
        with open(os.path.join(self.out, 'summary.md'), 'w') as f:
            f.write(text)
        if '--stdout' in self.flags:
            print(text)
        for e in self.errors:
            print(f'gpu_summary: {e}', file=sys.stderr)
        return 1 if self.errors else 0


def main(argv):
    args = [a for a in argv[1:] if not a.startswith('--')]
    flags = {a for a in argv[1:] if a.startswith('--')}
    if len(args) != 1 or flags - {'--plan-only', '--final', '--stdout'}:
        print(__doc__, file=sys.stderr)
        return 2
    if not os.path.isdir(args[0]):
        print(f'gpu_summary: {args[0]} is not a folder', file=sys.stderr)
        return 2
    return Report(args[0], flags).write()


if __name__ == '__main__':
    sys.exit(main(sys.argv))
