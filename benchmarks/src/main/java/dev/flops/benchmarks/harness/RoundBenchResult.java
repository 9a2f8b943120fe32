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
 * @param serverPeakRssMib the aggregator process's VmHWM, MiB
 * @param extra further {@code key=value} fields, printed after the required ones in this order
 */
record RoundBenchResult(long params, int learners, List<Double> roundSeconds,
    double serverPeakRssMib, Map<String, String> extra) {

  RoundBenchResult {
    roundSeconds = List.copyOf(roundSeconds);
    extra = new LinkedHashMap<>(extra);
    if (roundSeconds.isEmpty()) {
      throw new IllegalArgumentException("a result needs at least one round");
    }
  }

  /**
   * Returns the median wall time of rounds 2 and later (round 1 also waits for every learner to
   * start and connect); the median of two rounds is their mean. With one round, that round.
   */
  double steadyRoundSeconds() {
    List<Double> steady = roundSeconds.size() == 1 ? roundSeconds
        : roundSeconds.subList(1, roundSeconds.size());
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
