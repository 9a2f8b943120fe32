#!/usr/bin/env python3
"""CPU per round of a running round harness, by JVM role and thread, from /proc.

usage: benchmarks/cpu-split.py RUN_LOG_DIR FROM_ROUND TO_ROUND

Start it beside `benchmarks/round-bench.sh single ...` (before the run reaches FROM_ROUND), giving
the run's log directory (printed by the harness; it holds aggregator.log and learners-*.log). It
takes that run's JVMs (the learner JVMs write into that directory, the aggregator is their
sibling), not another harness's, waits until the aggregator has logged round FROM_ROUND,
reads utime and stime of each of their threads, reads them again once round TO_ROUND is logged,
and prints the CPU per round by (role, thread name with digits folded to '#', user or sys),
then the totals. /proc counts in clock ticks (10 ms), so a figure moves in steps of 10 ms divided
by the rounds measured: measure over many rounds.

Thread names as the kernel keeps them (15 characters): 'grpc-default-wo' are netty's event loops,
'flops-aggregato' the aggregator's gRPC executor, 'grpc-default-ex' gRPC's default executor,
'bench-#' the learners' sessions, 'C# CompilerThre' the JIT, 'VM Thread' the serial collector;
'java' threads are the main thread and threads that native code started without a name (e.g.
OpenBLAS's workers). benchmarks/README.md, "Issue 13", shows what it printed. Linux only.
"""
import collections
import glob
import os
import re
import sys
import time

if len(sys.argv) != 4:
    sys.exit(__doc__.split('\n\n')[1])
logdir, r0, r1 = os.path.realpath(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
if not 1 <= r0 < r1:
    sys.exit(f'FROM_ROUND must be at least 1 and below TO_ROUND, but they were {r0} and {r1}')
aggregator_log = os.path.join(logdir, 'aggregator.log')
tick = os.sysconf('SC_CLK_TCK')


def rounds():
    try:
        with open(aggregator_log, errors='replace') as f:
            return max([int(m) for m in re.findall(r'HARNESS round round=(\d+)', f.read())] or [0])
    except FileNotFoundError:
        return 0


def cmdline(pid):
    try:
        return open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\0', b' ').decode(errors='replace')
    except OSError:
        return ''


def parent(pid):
    try:
        stat = open(f'/proc/{pid}/stat').read()
    except OSError:
        return None
    return stat[stat.rindex(')') + 2:].split()[1]


def pids():
    return [pid for pid in os.listdir('/proc') if pid.isdigit()]


def run_jvms():
    """pid -> 'aggregator' or 'learners' for this run: the learner JVMs write their output into
    logdir; the aggregator (whose output the harness reads through a pipe) is their sibling."""
    found = {}
    harnesses = set()
    for pid in pids():
        try:
            out = os.readlink(f'/proc/{pid}/fd/1')
        except OSError:
            continue
        if os.path.dirname(out) == logdir and os.path.basename(out).startswith('learners-'):
            found[pid] = 'learners'
            harnesses.add(parent(pid))
    for pid in pids():
        if parent(pid) in harnesses and 'HarnessAggregatorMain' in cmdline(pid):
            found[pid] = 'aggregator'
    return found


def any_aggregator():
    return any('HarnessAggregatorMain' in cmdline(pid) for pid in pids())


def snap(jvms):
    out = collections.Counter()
    for pid, role in jvms.items():
        for task in glob.glob(f'/proc/{pid}/task/*'):
            try:
                stat = open(task + '/stat').read()
            except OSError:
                continue
            name = stat[stat.index('(') + 1:stat.rindex(')')]
            fields = stat[stat.rindex(')') + 2:].split()
            key = (role, re.sub(r'[0-9]+', '#', name))
            out[key + ('user',)] += int(fields[11])
            out[key + ('sys',)] += int(fields[12])
    return out


def wait_for(target):
    """Waits until the aggregator logged round `target`; returns the round it had logged then."""
    checks = 0
    while True:
        reached = rounds()
        if reached >= target:
            return reached
        time.sleep(0.05)
        checks += 1
        if checks % 20 == 0 and not any_aggregator():
            sys.exit(f'no harness aggregator is running (the run ended?) before round {target}')


deadline = time.time() + 60
while not os.path.exists(aggregator_log):
    if time.time() > deadline:
        sys.exit(f'no {aggregator_log} after 60 s: give the log directory the harness printed')
    time.sleep(0.2)
if rounds() > r0:
    sys.exit(f'the run had already logged round {rounds()} when this started: start it before '
             f'round {r0}')
# Rounds can be shorter than the polling period: count the rounds actually between the snapshots.
# By round FROM_ROUND >= 1 every learner JVM has started (round 1 waits for all of them).
start = wait_for(r0)
jvms = run_jvms()
if 'aggregator' not in jvms.values() or 'learners' not in jvms.values():
    sys.exit(f'found no aggregator and learner JVMs of the run in {logdir}')
a, t0 = snap(jvms), time.time()
end = wait_for(r1)
b, t1 = snap(jvms), time.time()
n = end - start
totals = collections.Counter()
rows = []
for key in set(a) | set(b):
    ms = (b[key] - a[key]) * 1000.0 / tick / n
    totals[key[0]] += ms
    if ms > 0:
        rows.append((key[0], key[1] + ' ' + key[2], ms))
for role, name, ms in sorted(rows, key=lambda row: (row[0], -row[2])):
    print(f'{role:11s} {name:34s} {ms:8.2f} ms/round')
print(f'rounds {start}->{end}: wall {1000 * (t1 - t0) / n:.1f} ms/round; CPU ms/round: '
      + ', '.join(f'{role} {ms:.1f}' for role, ms in sorted(totals.items()))
      + f', total {sum(totals.values()):.1f}')
