#!/usr/bin/env python3
"""CPU per round of a running round harness, by JVM role and thread, from /proc.

usage: benchmarks/cpu-split.py RUN_LOG_DIR FROM_ROUND TO_ROUND

Start it beside `benchmarks/round-bench.sh single ...`, giving the run's log directory (printed by
the harness; it holds aggregator.log). It waits until the aggregator has logged round FROM_ROUND,
reads utime and stime of every thread of the harness's aggregator and learner JVMs
(HarnessAggregatorMain, HarnessLearnersMain), reads them again at TO_ROUND, and prints the CPU per
round by (role, thread name with digits folded to '#', user or sys), then the totals. Thread
names as the kernel knows them (15 characters): 'grpc-default-wo' are netty's event loops,
'flops-aggregato' the aggregator's gRPC executor, 'bench-#' the learners' sessions, 'C# Compiler'
the JIT, 'VM Thread' the serial collector; 'java' threads are the main thread and threads that
native code started without a name (OpenBLAS's workers). benchmarks/README.md, "Issue 13", shows
what it printed. Linux only; exits if the aggregator ends before TO_ROUND.
"""
import os, re, sys, time, glob, collections
logdir, r0, r1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tick = os.sysconf('SC_CLK_TCK')
def rounds():
    p = os.path.join(logdir, 'aggregator.log')
    try:
        with open(p, errors='replace') as f:
            return max([int(m) for m in re.findall(r'HARNESS round round=(\d+)', f.read())] or [0])
    except FileNotFoundError:
        return 0
def role(pid):
    try:
        cmd = open(f'/proc/{pid}/cmdline', 'rb').read().split(b'\0')
    except OSError:
        return None
    s = b' '.join(cmd).decode(errors='replace')
    if 'dev.flops.benchmarks.harness.HarnessAggregatorMain' in s: return 'aggregator'
    if 'dev.flops.benchmarks.harness.HarnessLearnersMain' in s: return 'learners'
    return None
def snap():
    out = collections.Counter()
    for pid in os.listdir('/proc'):
        if not pid.isdigit(): continue
        r = role(pid)
        if not r: continue
        for tid in glob.glob(f'/proc/{pid}/task/*'):
            try:
                st = open(tid + '/stat').read()
                name = st[st.index('(') + 1:st.rindex(')')]
                f = st[st.rindex(')') + 2:].split()
                cpu = (int(f[11]), int(f[12]))
            except (OSError, ValueError):
                continue
            k = (r, re.sub(r'[0-9]+', '#', name))
            out[k + ('user',)] += cpu[0]
            out[k + ('sys',)] += cpu[1]
    return out
def alive():
    return any(role(p) == 'aggregator' for p in os.listdir('/proc') if p.isdigit())
def wait_for(r):
    gone, i = 0, 0
    while rounds() < r:
        time.sleep(0.05)
        i += 1
        if i % 20 == 0:
            gone = gone + 1 if not alive() else 0
            if gone > 3: sys.exit('the aggregator ended before round %d' % r)
wait_for(r0)
a, t0 = snap(), time.time()
wait_for(r1)
b, t1 = snap(), time.time()
n = r1 - r0
tot = collections.Counter()
rows = []
for k in set(a) | set(b):
    ms = (b[k] - a[k]) * 1000.0 / tick / n
    tot[k[0]] += ms
    if ms >= 0.05: rows.append((k[0], k[1] + ' ' + k[2], ms))
for r, name, ms in sorted(rows, key=lambda x: (x[0], -x[2])):
    print(f'{r:11s} {name:34s} {ms:8.2f} ms/round')
print(f'rounds {r0}->{r1}: wall {1000*(t1-t0)/n:.1f} ms/round; CPU ms/round: ' +
      ', '.join(f'{r} {v:.1f}' for r, v in tot.items()) + f', total {sum(tot.values()):.1f}')
