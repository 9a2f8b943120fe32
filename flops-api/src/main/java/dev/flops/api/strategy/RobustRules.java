package dev.flops.api.strategy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;

/**
 * The maths of the robust strategies as plain functions that tests can hit: per-coordinate rules
 * (median, trimmed mean, Bulyan's mean around the median, the example-weighted mean), Krum's
 * scores, and the checks that refuse a round or a knob with a message that says what to change.
 *
 * <p>Every function is independent of the order in which updates arrived: coordinate values are
 * sorted before they are combined, Krum's ties go to the smaller learner id, and weighted sums run
 * in learner-id order in double, rounded to float32 once.
 */
final class RobustRules {
  private RobustRules() {}

  /** The coordinate-wise median: the middle value, or the mean of the two middle ones. */
  static float median(float[] values) {
    Arrays.sort(values);
    int n = values.length;
    if (n % 2 == 1) {
      return values[n / 2];
    }
    return (float) (((double) values[n / 2 - 1] + values[n / 2]) / 2);
  }

  /** The mean of the values left after cutting {@code cut} of the smallest and largest. */
  static float trimmedMean(float[] values, int cut) {
    Arrays.sort(values);
    double sum = 0;
    for (int i = cut; i < values.length - cut; i++) {
      sum += values[i];
    }
    return (float) (sum / (values.length - 2 * cut));
  }

  /**
   * Bulyan's second step: the mean of the {@code beta} values closest to the median. Sorted, they
   * are a run around the middle, grown one value at a time toward the closer side (the smaller
   * value on a tie).
   */
  static float meanAroundMedian(float[] values, int beta) {
    Arrays.sort(values);
    int n = values.length;
    double median = n % 2 == 1
        ? values[n / 2] : ((double) values[n / 2 - 1] + values[n / 2]) / 2;
    int low = (n - 1) / 2;
    int high = low;
    // [low, high) is the run taken so far.
    while (high - low < beta) {
      boolean takeLow = low > 0 && (high == n
          || median - values[low - 1] <= (double) values[high] - median);
      if (high == low) {
        high++;
      } else if (takeLow) {
        low--;
      } else {
        high++;
      }
    }
    double sum = 0;
    for (int i = low; i < high; i++) {
      sum += values[i];
    }
    return (float) (sum / beta);
  }

  /** {@code Σ weights[k]·values[k] / total} in double, in the given order, rounded once. */
  static float weightedMean(float[] values, double[] weights, double total) {
    double sum = 0;
    for (int k = 0; k < values.length; k++) {
      sum += weights[k] * values[k];
    }
    return (float) (sum / total);
  }

  /** How many values trimmed mean cuts at each end: {@code floor(beta · n)}, as Flower does. */
  static int trimCount(double beta, int n) {
    return (int) Math.floor(beta * n);
  }

  /**
   * Returns the squared distance between updates {@code i} and {@code j} from the rows that
   * {@link UpdateStaging#squaredDistancesTo} gave as they arrived: row {@code i} holds the
   * distances to the updates that arrived before {@code i}.
   */
  static double distance(List<double[]> rows, int i, int j) {
    return i > j ? rows.get(i)[j] : rows.get(j)[i];
  }

  /**
   * Krum's score of each member: the sum of its squared distances to its {@code closest} nearest
   * other members, summed from the nearest up.
   *
   * @param rows the distance rows
   * @param members indices (arrival order) of the updates in play
   * @param closest how many nearest neighbours count, at most members.length - 1
   * @return the scores, aligned with {@code members}
   */
  static double[] krumScores(List<double[]> rows, int[] members, int closest) {
    double[] scores = new double[members.length];
    double[] others = new double[members.length - 1];
    for (int a = 0; a < members.length; a++) {
      int o = 0;
      for (int b = 0; b < members.length; b++) {
        if (b != a) {
          others[o++] = distance(rows, members[a], members[b]);
        }
      }
      Arrays.sort(others);
      double score = 0;
      for (int k = 0; k < closest; k++) {
        score += others[k];
      }
      scores[a] = score;
    }
    return scores;
  }

  /**
   * Returns the members ranked by Krum score, best (lowest) first, ties to the smaller learner id.
   */
  static int[] rankedByScore(UpdateStaging staging, List<double[]> rows, int[] members,
      int closest) {
    double[] scores = krumScores(rows, members, closest);
    List<Integer> order = new ArrayList<>();
    for (int a = 0; a < members.length; a++) {
      order.add(a);
    }
    order.sort(Comparator.<Integer>comparingDouble(a -> scores[a])
        .thenComparing(a -> staging.learnerId(members[a])));
    int[] ranked = new int[members.length];
    for (int r = 0; r < ranked.length; r++) {
      ranked[r] = members[order.get(r)];
    }
    return ranked;
  }

  /** Returns the indices sorted by learner id: the order in which sums run. */
  static int[] byLearnerId(UpdateStaging staging, int[] indices) {
    return Arrays.stream(indices).boxed()
        .sorted(Comparator.comparing(staging::learnerId))
        .mapToInt(Integer::intValue).toArray();
  }

  /** Returns 0, 1, ..., n - 1. */
  static int[] all(int n) {
    int[] indices = new int[n];
    for (int i = 0; i < n; i++) {
      indices[i] = i;
    }
    return indices;
  }

  /**
   * Refuses Krum and MultiKrum rounds with {@code n <= 2f + 2} updates (Blanchard et al. 2017
   * need {@code n > 2f + 2}: each score sums {@code n - f - 2 >= 1} distances).
   */
  static void requireKrumQuorum(String strategy, int n, int f) {
    if (n <= 2 * f + 2) {
      throw new IllegalStateException(String.format("%s cannot combine this round: it has n = %d "
          + "updates, and with byzantine f = %d Krum needs n > 2f + 2 = %d (Blanchard et al. "
          + "2017). Sample at least %d learners a round (minFitLearners and the plan's "
          + "minFitResults), or lower byzantine to at most %d", strategy, n, f, 2 * f + 2,
          2 * f + 3, Math.max(0, (n - 3) / 2)));
    }
  }

  /** Refuses Bulyan rounds with {@code n < 4f + 3} updates (El Mhamdi et al. 2018). */
  static void requireBulyanQuorum(int n, int f) {
    if (n < 4 * f + 3) {
      throw new IllegalStateException(String.format("Bulyan cannot combine this round: it has "
          + "n = %d updates, and with byzantine f = %d it needs n >= 4f + 3 = %d (El Mhamdi et al. "
          + "2018). Sample at least %d learners a round (minFitLearners and the plan's "
          + "minFitResults), or lower byzantine to at most %d", n, f, 4 * f + 3, 4 * f + 3,
          Math.max(0, (n - 3) / 4)));
    }
  }

  /** Refuses a trimmed mean that would cut every value: {@code 2·floor(beta·n) >= n}. */
  static void requireSomethingLeft(double beta, int n) {
    int cut = trimCount(beta, n);
    if (2 * cut >= n) {
      throw new IllegalStateException(String.format("FedTrimmedAvg cannot combine this round: "
          + "with n = %d updates and beta = %s it cuts floor(beta·n) = %d at each end, which "
          + "leaves nothing (the rule needs 2·floor(beta·n) < n). Lower beta below %s or sample "
          + "more learners", n, beta, cut, (double) ((n - 1) / 2 + 1) / n));
    }
  }

  /** Refuses a round without updates. */
  static void requireUpdates(String strategy, int n) {
    if (n == 0) {
      throw new IllegalStateException(strategy + " cannot combine a round without updates");
    }
  }

  /** Checks the {@code byzantine} knob alone. */
  static int checkByzantine(int f) {
    if (f < 0) {
      throw new IllegalArgumentException("byzantine (the number of Byzantine learners f) must be "
          + "at least 0 but was " + f);
    }
    return f;
  }

  /** Checks the {@code stagingDirectory} knob alone; the directory is created when first used. */
  static Path checkStagingDirectory(Path directory) {
    Objects.requireNonNull(directory, "stagingDirectory");
    if (Files.exists(directory) && !Files.isDirectory(directory)) {
      throw new IllegalArgumentException("stagingDirectory " + directory + " exists and is not a "
          + "directory; give a directory (created if missing) with room for a round's updates");
    }
    return directory;
  }
}
