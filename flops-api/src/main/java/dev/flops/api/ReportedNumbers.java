package dev.flops.api;

import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The rules every number a learner reports must follow: its loss, its example count and its
 * metrics, in fit and evaluate results alike. {@link FitResult} and {@link EvaluateResult} check
 * them when they are made, so a learner finds a bad value where it arises, and the aggregator
 * checks them again when a result arrives over the wire, so a foreign learner cannot get past
 * them.
 *
 * <table>
 *   <caption>The rules</caption>
 *   <tr><th>Value</th><th>Rule</th><th>Why</th></tr>
 *   <tr><td>loss</td><td>finite, magnitude at most {@value #MAX_MAGNITUDE}; negative is legal</td>
 *       <td>some objectives (a negative log-likelihood of a density, an ELBO) are negative; a
 *       magnitude bound keeps every example-weighted sum finite</td></tr>
 *   <tr><td>num_examples</td><td>1 to {@value #MAX_EXAMPLES} (2<sup>32</sup>)</td>
 *       <td>it weights the result; with at most {@link Integer#MAX_VALUE} results a round, the
 *       total stays below 2<sup>63</sup> (no {@code long} overflow), and
 *       {@value #MAX_MAGNITUDE} &times; 2<sup>63</sup> is far below
 *       {@link Double#MAX_VALUE}</td></tr>
 *   <tr><td>metric value</td><td>finite, magnitude at most {@value #MAX_MAGNITUDE}</td>
 *       <td>as the loss: metrics are averaged with the same weights</td></tr>
 *   <tr><td>metric name</td><td>1 to {@value #MAX_METRIC_NAME_CHARS} characters: letters, digits,
 *       {@code _ - . : /} and space; no empty, {@code .} or {@code ..} path segment, no leading or
 *       trailing {@code /}</td>
 *       <td>MLflow's own rule for metric keys, which become file names in its file store</td></tr>
 *   <tr><td>metric count</td><td>at most {@value #MAX_METRICS} a result</td>
 *       <td>each becomes a tracked series</td></tr>
 * </table>
 *
 * <p>A method returns its argument when it follows the rule and otherwise throws an
 * {@link InvalidResultException} (an {@link IllegalArgumentException}) whose message names the
 * field and the value and says what a learner must report instead. Stateless and safe to call from any thread.
 */
public final class ReportedNumbers {

  /** The largest magnitude of a loss or metric value: far beyond any real one. */
  public static final double MAX_MAGNITUDE = 1e100;
  /** The most examples one result may weigh: 2<sup>32</sup>. */
  public static final long MAX_EXAMPLES = 1L << 32;
  /** The most metrics one result may carry. */
  public static final int MAX_METRICS = 256;
  /** The longest metric name, as MLflow allows. */
  public static final int MAX_METRIC_NAME_CHARS = 250;

  private ReportedNumbers() {}

  /**
   * Checks a reported loss.
   *
   * @param loss the mean loss of a result
   * @return {@code loss}
   * @throws InvalidResultException if it is NaN, infinite, or its magnitude exceeds
   *     {@value #MAX_MAGNITUDE}
   */
  public static double loss(double loss) {
    return value("loss", loss, "a loss");
  }

  /**
   * Checks a reported example count.
   *
   * @param numExamples how many examples a result is about; the weight of the result
   * @return {@code numExamples}
   * @throws InvalidResultException if it is below 1 or above {@value #MAX_EXAMPLES}
   */
  public static long numExamples(long numExamples) {
    return numExamples("num_examples", numExamples);
  }

  /**
   * Checks a reported example count, as {@link #numExamples(long)} does, naming it {@code field}.
   * The count is read as unsigned when negative, since the wire carries it as an unsigned 64-bit
   * number.
   *
   * @param field the field's name in the message, e.g. {@code num_examples}
   * @param numExamples the count
   * @return {@code numExamples}
   * @throws InvalidResultException if it is 0 or above {@value #MAX_EXAMPLES} (unsigned)
   */
  public static long numExamples(String field, long numExamples) {
    if (numExamples == 0) {
      throw new InvalidResultException(field + " is 0; a result must be about at least 1 "
          + "example (the count weights it)");
    }
    if (numExamples < 0 || numExamples > MAX_EXAMPLES) {
      throw new InvalidResultException(field + " is " + Long.toUnsignedString(numExamples)
          + ", above the limit of " + MAX_EXAMPLES + " (2^32) examples a result; report the "
          + "number of examples this result is about");
    }
    return numExamples;
  }

  /**
   * Checks one reported metric.
   *
   * @param name the metric's name
   * @param value its value
   * @return {@code value}
   * @throws InvalidResultException if the name breaks the naming rule, or the value is NaN,
   *     infinite or of magnitude above {@value #MAX_MAGNITUDE}
   * @throws NullPointerException if the name is null
   */
  public static double metric(String name, double value) {
    metricName(name);
    return value("metric '" + name + "'", value, "a metric");
  }

  /**
   * Checks reported metrics: their count, and each name and value as {@link #metric} does.
   *
   * @param metrics metrics by name
   * @return {@code metrics}
   * @throws InvalidResultException naming the first metric that breaks a rule
   * @throws NullPointerException if the map, a name or a value is null
   */
  public static Map<String, Double> metrics(Map<String, Double> metrics) {
    Objects.requireNonNull(metrics, "metrics");
    if (metrics.size() > MAX_METRICS) {
      throw new InvalidResultException("a result carries " + metrics.size()
          + " metrics; at most " + MAX_METRICS + " are allowed");
    }
    metrics.forEach((name, value) ->
        metric(name, Objects.requireNonNull(value, () -> "metric '" + name + "' is null")));
    return metrics;
  }

  /**
   * Checks a metric name against MLflow's rule for metric keys.
   *
   * @param name the name
   * @return {@code name}
   * @throws InvalidResultException if the name is empty, too long, holds a character other than
   *     letters, digits, {@code _ - . : /} and space, or has an empty, {@code .} or {@code ..} path
   *     segment
   * @throws NullPointerException if the name is null
   */
  public static String metricName(String name) {
    Objects.requireNonNull(name, "metric name");
    if (name.isEmpty() || name.length() > MAX_METRIC_NAME_CHARS) {
      throw new InvalidResultException(String.format(Locale.ROOT,
          "metric name '%s' has %d characters; a name has 1 to %d", shortened(name),
          name.length(), MAX_METRIC_NAME_CHARS));
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      boolean allowed = Character.isLetterOrDigit(c)
          || c == '_' || c == '-' || c == '.' || c == '/' || c == ' ' || c == ':';
      if (!allowed) {
        throw new InvalidResultException(String.format(Locale.ROOT,
            "metric name '%s' holds the character U+%04X at index %d; a metric name may hold "
                + "only letters, digits, '_', '-', '.', ':', '/' and spaces", shortened(name),
            (int) c, i));
      }
    }
    for (String segment : name.split("/", -1)) {
      if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
        throw new InvalidResultException("metric name '" + name + "' has an empty, '.' or '..' "
            + "path segment; MLflow stores a metric under its name as a path, e.g. "
            + "'system/cpu_utilization'");
      }
    }
    return name;
  }

  private static double value(String field, double value, String what) {
    if (Double.isNaN(value) || Double.isInfinite(value)) {
      throw new InvalidResultException(field + " is " + value + "; a learner must report "
          + (what.equals("a loss") ? "a finite loss" : "finite metrics"));
    }
    if (Math.abs(value) > MAX_MAGNITUDE) {
      throw new InvalidResultException(field + " is " + value + ", beyond 1e100 in "
          + "magnitude; a learner must report " + what + " of at most 1e100 in magnitude (a mean "
          + "per example, not a sum)");
    }
    return value;
  }

  private static String shortened(String name) {
    return name.length() <= 60 ? name : name.substring(0, 60) + "...";
  }
}
