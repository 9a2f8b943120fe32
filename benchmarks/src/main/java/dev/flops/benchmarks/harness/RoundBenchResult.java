package dev.flops.benchmarks.harness;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The outcome of one harness run and its {@code ROUND_BENCH} line.
 *
 * @param params the model size P
 * @param learners the learner count N
 * @param roundSeconds each round's wall time as the aggregator measured it
 * @param warmupRounds how many leading rounds {@link #steadyRoundSeconds()} leaves out (round 1
 *     waits for every learner to start and connect; the next ones run code the JIT has not
 *     compiled yet); 0 to N-1
 * @param serverPeakRssMib the aggregator process's VmHWM, MiB
 * @param extra further {@code key=value} fields, printed after the required ones in this order
 */
record RoundBenchResult(long params, int learners, List<Double> roundSeconds, int warmupRounds,
    double serverPeakRssMib, Map<String, String> extra) {

  RoundBenchResult {
    roundSeconds = List.copyOf(roundSeconds);
    extra = new LinkedHashMap<>(extra);
    if (roundSeconds.isEmpty()) {
      throw new IllegalArgumentException("a result needs at least one round");
    }
    if (warmupRounds < 0 || warmupRounds >= roundSeconds.size()) {
      throw new IllegalArgumentException(String.format(
          "warm-up rounds must be 0 to %d (one round fewer than the %d run) but were %d",
          roundSeconds.size() - 1, roundSeconds.size(), warmupRounds));
    }
  }

  /**
   * Returns the median wall time of the rounds after the {@link #warmupRounds} warm-up rounds;
   * the median of an even count is the mean of the middle two.
   */
  double steadyRoundSeconds() {
    List<Double> steady = roundSeconds.subList(warmupRounds, roundSeconds.size());
    double[] sorted = steady.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    int mid = sorted.length / 2;
    return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }

  /** The machine-readable line: the required fields first, then {@link #extra}. */
  String line() {
    List<String> fields = new ArrayList<>(Arrays.asList(
        "P=" + params,
        "N=" + learners,
        "rounds=" + roundSeconds.size(),
        "round_s=" + format(steadyRoundSeconds()),
        "warmup_rounds=" + warmupRounds,
        "server_peak_rss_mb=" + String.format(Locale.ROOT, "%.1f", serverPeakRssMib),
        "round1_s=" + format(roundSeconds.get(0)),
        "rounds_s=" + roundSeconds.stream().map(RoundBenchResult::format)
            .collect(Collectors.joining(","))));
    extra.forEach((key, value) -> fields.add(key + "=" + value));
    return "ROUND_BENCH " + String.join(" ", fields);
  }

  private static String format(double seconds) {
    return String.format(Locale.ROOT, "%.3f", seconds);
  }
}
