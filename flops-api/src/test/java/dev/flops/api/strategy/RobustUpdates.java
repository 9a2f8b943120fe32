package dev.flops.api.strategy;

import dev.flops.api.FitResult;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

/**
 * Random rounds for the robust strategies' tests, and double-precision references of their rules
 * written straight from the papers (and Flower's aggregate.py), over whole models held on the heap.
 */
final class RobustUpdates {
  private RobustUpdates() {}

  /** One learner's update, as a test holds it. */
  record Update(String learnerId, long examples, Parameters parameters) {
    /** All values, tensor after tensor. */
    float[] flat() {
      int total = Math.toIntExact(parameters.elementCount());
      float[] values = new float[total];
      int at = 0;
      for (Tensor tensor : parameters) {
        float[] part = tensor.toFloatArray();
        System.arraycopy(part, 0, values, at, part.length);
        at += part.length;
      }
      return values;
    }
  }

  /** A model of three tensors, the first larger than one staging block (64 Ki values). */
  static Parameters model(Random random, float center, float spread) {
    return Parameters.of(
        Tensor.ofFloats("big", new long[] {UpdateStaging.DEFAULT_BLOCK_VALUES + 4_464},
            gaussian(random, UpdateStaging.DEFAULT_BLOCK_VALUES + 4_464, center, spread)),
        Tensor.ofFloats("w", new long[] {30, 20}, gaussian(random, 600, center, spread)),
        Tensor.ofFloats("b", new long[] {5}, gaussian(random, 5, center, spread)));
  }

  static float[] gaussian(Random random, int n, float center, float spread) {
    float[] values = new float[n];
    for (int i = 0; i < n; i++) {
      values[i] = center + spread * (float) random.nextGaussian();
    }
    return values;
  }

  /**
   * A round of n updates with unequal example counts and unequal spreads; the last {@code wild}
   * of them far off, so that the Krum family has something to reject.
   */
  static List<Update> round(long seed, int n, int wild) {
    Random random = new Random(seed);
    List<Update> updates = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      boolean far = i >= n - wild;
      float spread = far ? 5f : 0.5f + random.nextFloat();
      updates.add(new Update("learner-" + (char) ('a' + n - 1 - i), 1 + random.nextInt(1000),
          model(random, far ? -4f : 1f, spread)));
    }
    return updates;
  }

  /**
   * Feeds the updates to a fresh aggregation of the strategy, in the given order, and returns the
   * new global parameters.
   *
   * @throws IllegalStateException as the strategy's combiner refuses the round
   */
  static Parameters combine(Strategy strategy, Parameters global, List<Update> updates) {
    FitAggregation aggregation = strategy.beginFitAggregation(1, global, null);
    for (Update update : updates) {
      accept(aggregation, update);
    }
    return aggregation.finish(List.of()).parameters().orElseThrow();
  }

  static void accept(FitAggregation aggregation, Update update) {
    BorrowedUpdate borrowed = BorrowedUpdate.lend(update.learnerId(),
        FitResult.of(update.parameters(), update.examples()));
    try {
      aggregation.accept(borrowed);
    } finally {
      borrowed.release();
    }
  }

  static void add(UpdateCombiner combiner, Update update) {
    BorrowedUpdate borrowed = BorrowedUpdate.lend(update.learnerId(),
        FitResult.of(update.parameters(), update.examples()));
    try {
      combiner.add(borrowed);
    } finally {
      borrowed.release();
    }
  }

  static float[] flat(Parameters parameters) {
    return new Update("result", 1, parameters).flat();
  }

  static float[][] values(List<Update> updates) {
    float[][] values = new float[updates.size()][];
    for (int i = 0; i < values.length; i++) {
      values[i] = updates.get(i).flat();
    }
    return values;
  }

  static double[] referenceMedian(float[][] x) {
    return perCoordinate(x, column -> {
      int n = column.length;
      return n % 2 == 1 ? column[n / 2] : (column[n / 2 - 1] + column[n / 2]) / 2;
    });
  }

  static double[] referenceTrimmedMean(float[][] x, double beta) {
    return perCoordinate(x, column -> {
      int cut = (int) (beta * column.length);
      return Arrays.stream(column, cut, column.length - cut).average().orElseThrow();
    });
  }

  interface Column {
    double combine(double[] sortedColumn);
  }

  static double[] perCoordinate(float[][] x, Column rule) {
    double[] result = new double[x[0].length];
    double[] column = new double[x.length];
    for (int k = 0; k < result.length; k++) {
      for (int i = 0; i < x.length; i++) {
        column[i] = x[i][k];
      }
      Arrays.sort(column);
      result[k] = rule.combine(column);
    }
    return result;
  }

  static double[][] squaredDistances(float[][] x) {
    double[][] d = new double[x.length][x.length];
    for (int i = 0; i < x.length; i++) {
      for (int j = 0; j < x.length; j++) {
        double sum = 0;
        for (int k = 0; k < x[i].length; k++) {
          double diff = (double) x[i][k] - x[j][k];
          sum += diff * diff;
        }
        d[i][j] = sum;
      }
    }
    return d;
  }

  /** Krum scores of the members: the sum of the {@code closest} smallest distances to others. */
  static List<Integer> rankedByKrum(double[][] d, List<Integer> members, int closest,
      List<Update> updates) {
    double[] score = new double[d.length];
    for (int i : members) {
      score[i] = members.stream().filter(j -> j != i).mapToDouble(j -> d[i][j]).sorted()
          .limit(closest).sum();
    }
    List<Integer> ranked = new ArrayList<>(members);
    ranked.sort(Comparator.<Integer>comparingDouble(i -> score[i])
        .thenComparing(i -> updates.get(i).learnerId()));
    return ranked;
  }

  static double[] referenceWeightedMean(float[][] x, List<Integer> chosen, List<Update> updates) {
    double[] result = new double[x[0].length];
    double total = chosen.stream().mapToDouble(i -> updates.get(i).examples()).sum();
    for (int k = 0; k < result.length; k++) {
      double sum = 0;
      for (int i : chosen) {
        sum += updates.get(i).examples() * (double) x[i][k];
      }
      result[k] = sum / total;
    }
    return result;
  }

  /** Bulyan as El Mhamdi et al. and Flower's aggregate_bulyan state it. */
  static double[] referenceBulyan(float[][] x, int f, List<Update> updates) {
    double[][] d = squaredDistances(x);
    List<Integer> remaining = new ArrayList<>();
    for (int i = 0; i < x.length; i++) {
      remaining.add(i);
    }
    int theta = x.length - 2 * f;
    int beta = theta - 2 * f;
    List<Integer> chosen = new ArrayList<>();
    for (int c = 0; c < theta; c++) {
      int r = remaining.size();
      int best = rankedByKrum(d, remaining, Math.min(r - 1, Math.max(1, r - f - 2)), updates)
          .get(0);
      chosen.add(best);
      remaining.remove(Integer.valueOf(best));
    }
    float[][] selected = new float[theta][];
    for (int c = 0; c < theta; c++) {
      selected[c] = x[chosen.get(c)];
    }
    return perCoordinate(selected, column -> {
      int n = column.length;
      double median = n % 2 == 1 ? column[n / 2] : (column[n / 2 - 1] + column[n / 2]) / 2;
      return Arrays.stream(column).boxed()
          .sorted(Comparator.comparingDouble(v -> Math.abs(v - median)))
          .limit(beta).mapToDouble(Double::doubleValue).average().orElseThrow();
    });
  }
}
