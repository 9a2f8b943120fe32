#!/usr/bin/env bash
# The round harness (benchmarks/README.md, "Round harness"): an aggregator and N learner JVMs on
# loopback, a synthetic model of P float32 parameters, 10 rounds of which the median of the last 5
# is reported (--rounds, --warmup-rounds), one ROUND_BENCH line per run.
#
#   benchmarks/round-bench.sh matrix            (P,N) = (1M,10) (10M,10) (10M,20) (10M,50) (2M,50)
#   benchmarks/round-bench.sh fixed             the fixed per-round cost: P=1k, N=10 and 100, 100
#                                               rounds, the first 50 left out (N=100: 10 per JVM)
#   benchmarks/round-bench.sh scale             P=100k, N=1000, 100 learners per JVM (ROUND_BENCH_K)
#   benchmarks/round-bench.sh targets           issue 13's seven targets, each past the JIT
#                                               (rounds and warm-up per configuration below)
#   benchmarks/round-bench.sh huge              P=640M, N=2, heaps sized for a 2.5 GB model
#   benchmarks/round-bench.sh profile           (10M,10) with JFR of the aggregator and one learner
#   benchmarks/round-bench.sh single P N [...]  one run; further options go to RoundHarness
#
# Results are appended to $ROUND_BENCH_OUT/results.txt (default benchmarks/target/round-bench),
# each run's logs go to a directory beside it. Add --help to `single` to list the options.
set -euo pipefail
cd "$(dirname "$0")/.."

out="${ROUND_BENCH_OUT:-benchmarks/target/round-bench}"
classpath_file=benchmarks/target/classpath.txt
stale() {
  [ ! -f "$classpath_file" ] && return 0
  [ -n "$(find pom.xml */pom.xml */src -newer "$classpath_file" -type f -print -quit)" ]
}
if stale; then
  echo "building flops..." >&2
  # Maven 3.8 prints bare colour resets even in batch mode; drop them.
  mvn -B -q -Dstyle.color=never -DskipTests -pl benchmarks -am package 2>&1 | sed 's/\x1b\[0m//g' >&2
fi
classpath="benchmarks/target/classes:$(cat "$classpath_file")"
mkdir -p "$out"

# The harness destroys its children when it ends and they halt when it is gone; this trap only
# makes sure the harness itself ends with the script.
harness_pid=""
cleanup() {
  if [ -n "$harness_pid" ] && kill -0 "$harness_pid" 2>/dev/null; then
    kill -TERM "$harness_pid" 2>/dev/null || true
    wait "$harness_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run P N [RoundHarness options...]: one run; the result line goes to stdout and results.txt
run() {
  local p="$1" n="$2"
  shift 2
  local logs="$out/P$p-N$n-$(date +%Y%m%dT%H%M%S)"
  mkdir -p "$logs"
  echo "# $(date -Is) P=$p N=$n load $(cut -d' ' -f1-3 /proc/loadavg)," \
    "MemAvailable $(awk '/MemAvailable/ {print int($2/1024)}' /proc/meminfo) MiB; logs $logs" >&2
  local status=0
  java -Xmx128m -cp "$classpath" dev.flops.benchmarks.harness.RoundHarness \
    -P "$p" -N "$n" --log-dir "$logs" "$@" >"$logs/result.txt" &
  harness_pid=$!
  wait "$harness_pid" || status=$?
  harness_pid=""
  tee -a "$out/results.txt" <"$logs/result.txt"
  return "$status"
}

mode="${1:-}"
shift || true
case "$mode" in
  matrix)
    failed=0
    for pn in "1000000 10" "10000000 10" "10000000 20" "10000000 50" "2000000 50"; do
      # shellcheck disable=SC2086 # word splitting of "P N" is intended
      run $pn "$@" || failed=1
    done
    exit "$failed"
    ;;
  fixed)
    # A 4 KB model: what a round costs beyond moving parameters. Rounds take tens of ms, so 50
    # warm-up rounds (past the JIT of 11 JVMs on 2 cores) cost seconds. FIXED_K learners share a
    # JVM at N=100 so that 100 learners do not need 100 JVMs.
    failed=0
    run 1000 10 --rounds 100 --warmup-rounds 50 "$@" || failed=1
    run 1000 100 --rounds 100 --warmup-rounds 50 --learners-per-jvm "${FIXED_K:-10}" "$@" \
      || failed=1
    exit "$failed"
    ;;
  targets)
    # Issue 13's targets (benchmarks/README.md, "Issue 13: the targets on a quiet machine"). Warm-up
    # rounds are what it takes the aggregator's C2 and the learners' C1 to stop compiling on 2
    # cores: a 4 KB round calls each method a handful of times, so 300 rounds; a 4 MB round
    # still has the aggregator's C2 busy (22 ms of CPU a round) after 40, so 150; 40 MB rounds
    # run the copy loops a million times, yet at N=20 the rounds keep getting faster until about
    # round 35, so 40; 1000 learners until round 20, and they run 50 rounds so that the
    # aggregator's RSS over them can be read too.
    failed=0
    run 1000 10 --rounds 400 --warmup-rounds 300 "$@" || failed=1
    run 1000 100 --rounds 400 --warmup-rounds 300 --learners-per-jvm 10 "$@" || failed=1
    run 1000000 10 --rounds 200 --warmup-rounds 150 "$@" || failed=1
    run 2000000 50 --rounds 20 --warmup-rounds 10 "$@" || failed=1
    run 10000000 10 --rounds 50 --warmup-rounds 30 "$@" || failed=1
    run 10000000 20 --rounds 60 --warmup-rounds 40 "$@" || failed=1
    run 100000 1000 --rounds 50 --warmup-rounds 20 --learners-per-jvm 100 "$@" || failed=1
    exit "$failed"
    ;;
  scale)
    run 100000 1000 --learners-per-jvm "${ROUND_BENCH_K:-100}" "$@"
    ;;
  huge)
    # 640M float32 = 2.56 GB (M). Memory: benchmarks/README.md ("Huge model"); one upload in
    # flight keeps the aggregator at 4M. The watchdog stops the run while 2 GiB are still free: a
    # JVM can claim a GB between two of its samples.
    run 640000000 2 \
      --max-in-flight 1 \
      --min-mem-available-mb 2048 \
      "$@"
    ;;
  profile)
    run 10000000 10 --profile-dir "$out/profile" "$@"
    echo "JFR recordings in $out/profile; summarise with:" >&2
    echo "  java -cp '$classpath' dev.flops.benchmarks.harness.HotMethods $out/profile/aggregator.jfr" >&2
    ;;
  single)
    [ $# -ge 2 ] || { echo "usage: $0 single P N [RoundHarness options]" >&2; exit 2; }
    run "$@"
    ;;
  *)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
