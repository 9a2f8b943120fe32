package dev.flops.api;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/** Names of well-known metrics, and the copying rule all metric maps follow. */
public final class Metrics {

  /**
   * The fraction of correct predictions; by default rounds are ranked by it ({@link RoundRanking}).
   */
  public static final String ACCURACY = "accuracy";

  private Metrics() {}

  /**
   * Copies a metric map into an unmodifiable map sorted by name.
   *
   * @param metrics the metrics
   * @return the copy
   * @throws NullPointerException if the map, a key or a value is null
   */
  public static Map<String, Double> copyOf(Map<String, Double> metrics) {
    Objects.requireNonNull(metrics, "metrics");
    Map<String, Double> copy = new TreeMap<>();
    metrics.forEach((k, v) -> copy.put(
        Objects.requireNonNull(k, "metric name"), Objects.requireNonNull(v, () -> "metric " + k)));
    return Collections.unmodifiableMap(copy);
  }
}
