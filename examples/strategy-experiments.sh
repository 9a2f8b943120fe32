#!/usr/bin/env bash
# The strategy experiments of examples/README.md ("Strategies under non-IID data and attacks"):
# runs bin/run-example local-federation once per strategy, same seed, full Fashion-MNIST, and prints
# a Markdown table of central accuracy (all 10,000 test images) per round, one column per strategy.
#
#   examples/strategy-experiments.sh noniid labels:2 [STRATEGY...]      10 learners, 20 rounds
#   examples/strategy-experiments.sh noniid dirichlet:0.1 [STRATEGY...]
#   examples/strategy-experiments.sh attack [STRATEGY...]               10 IID learners, 2 attackers
#                                                                       sending sign-flip:5, 10 rounds
#   examples/strategy-experiments.sh table DIR                          the table of runs already in DIR
#
# STRATEGY is a --strategy value (e.g. fedadam:eta=0.01); the defaults are every strategy with the
# knobs examples/README.md gives. Each run's output goes to examples/target/experiments/<experiment>/.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"

table() {
  local dir="$1"
  python3 - "$dir" <<'PY'
import os, re, sys
d = sys.argv[1]
runs = []
for name in sorted(os.listdir(d)):
    if not name.endswith('.out'):
        continue
    text = open(os.path.join(d, name)).read()
    cmd = open(os.path.join(d, name[:-4] + '.cmd')).read().strip()
    acc = {}
    for line in text.splitlines():
        m = re.match(r'\s+(\d+)\s+\d+/\d+\s+\d+/\d+\s+\S+\s+\S+\s+(\S+)', line)
        if m:
            acc[int(m.group(1))] = m.group(2)
    runs.append((name[:-4].split('-', 1)[1], cmd, acc))
if not runs:
    sys.exit('no runs in ' + d)
rounds = max(max(a) for _, _, a in runs if a)
print('| round | ' + ' | '.join(r[0] for r in runs) + ' |')
print('|---' * (len(runs) + 1) + '|')
for k in range(1, rounds + 1):
    print(f'| {k} | ' + ' | '.join(a.get(k, '') for _, _, a in runs) + ' |')
def last5(a):
    vals = [float(a[k]) for k in sorted(a)[-5:] if a[k] not in ('', '-')]
    return f'{max(vals):.4f}' if vals else ''
print('| best of last 5 | ' + ' | '.join(last5(a) for _, _, a in runs) + ' |')
print()
for name, cmd, _ in runs:
    print(f'- {name}: `{cmd}`')
PY
}

run() {
  local dir="$1" index="$2" strategy="$3"
  shift 3
  local label="${strategy//[:=,]/_}"
  local args=(local-federation "$@" --strategy "$strategy")
  local file
  file="$dir/$(printf '%02d' "$index")-$label"
  echo "bin/run-example ${args[*]}" > "$file.cmd"
  echo "# $(date -Is) $(cat "$file.cmd")" >&2
  (cd "$dir" && "$repo/bin/run-example" "${args[@]}" > "$file.out" 2> "$file.log") || {
    echo "failed: see $file.log" >&2
    return 1
  }
}

# position STRATEGY LIST...: the column of a strategy (its place in the default list), so that runs
# made one at a time still sort into the same table
position() {
  local name="${1%%:*}" i=1
  shift
  for candidate in "$@"; do
    [ "$candidate" = "$name" ] && { echo "$i"; return; }
    i=$((i + 1))
  done
  echo 99
}

mode="${1:-}"
shift || true
default_noniid=(fedavg fedavgm fedadagrad fedadam fedyogi fedprox fedmedian fedtrimmedavg krum
  multikrum bulyan)
default_attack=(fedavg fedmedian fedtrimmedavg krum multikrum bulyan)
case "$mode" in
  noniid)
    partition="${1:?give the partition, e.g. labels:2}"
    shift
    strategies=("$@")
    [ ${#strategies[@]} -gt 0 ] || strategies=("${default_noniid[@]}")
    dir="$repo/examples/target/experiments/noniid-${partition//:/-}"
    mkdir -p "$dir"
    for strategy in "${strategies[@]}"; do
      run "$dir" "$(position "$strategy" "${default_noniid[@]}")" "$strategy" \
        --learners 10 --partition "$partition" --rounds 20
    done
    table "$dir" ;;
  attack)
    strategies=("$@")
    [ ${#strategies[@]} -gt 0 ] || strategies=("${default_attack[@]}")
    dir="$repo/examples/target/experiments/attack"
    mkdir -p "$dir"
    if [ ! -f "$dir/00-clean.out" ]; then
      run "$dir" 0 fedavg --learners 10 --rounds 10
      for f in out cmd log; do mv "$dir/00-fedavg.$f" "$dir/00-clean.$f"; done
    fi
    for strategy in "${strategies[@]}"; do
      run "$dir" "$(position "$strategy" "${default_attack[@]}")" "$strategy" \
        --learners 10 --rounds 10 --attackers 2 --attack sign-flip:5
    done
    table "$dir" ;;
  table)
    table "${1:?give the directory}" ;;
  *)
    sed -n '2,14p' "$0" >&2
    exit 2 ;;
esac
