package dev.flops.examples.fashion;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Splits example indices across learners. Plain functions behind {@link Partitioning}, which is
 * what mains should use.
 *
 * <p>Every function is deterministic: the same arguments give the same split. Each returns one
 * array per learner of ascending example indices; the arrays are disjoint and non-empty. The
 * class-to-learner plans (Dirichlet proportions, class assignments) are drawn from the seed alone,
 * before looking at the labels, so a test set split with the same seed follows the same plan as
 * the training set.
 */
public final class Partitioner {

  /** Decorrelates the shuffling stream from the plan stream drawn from the same seed. */
  private static final long SHUFFLE_SALT = 0x9E3779B97F4A7C15L;

  private Partitioner() {}

  /**
   * Shuffles {@code 0 .. numExamples-1} and deals out {@code learners} contiguous shards whose
   * sizes differ by at most one.
   *
   * @param numExamples the number of examples, at least {@code learners}
   * @param learners the number of learners, at least 1
   * @param seed the shuffle seed
   * @return one index array per learner
   * @throws IllegalArgumentException if {@code learners < 1} or {@code learners > numExamples}
   */
  public static int[][] iid(int numExamples, int learners, long seed) {
    checkLearners(learners, numExamples);
    int[] order = identity(numExamples);
    shuffle(order, new Random(seed ^ SHUFFLE_SALT));
    int[][] shards = new int[learners][];
    int base = numExamples / learners;
    int extra = numExamples % learners;
    int start = 0;
    for (int learner = 0; learner < learners; learner++) {
      int size = base + (learner < extra ? 1 : 0);
      shards[learner] = Arrays.copyOfRange(order, start, start + size);
      Arrays.sort(shards[learner]);
      start += size;
    }
    return shards;
  }

  /**
   * Label-skewed split (Hsu et al., 2019): for each class, draws the learners' shares from a
   * symmetric Dirichlet(alpha) and hands the class's shuffled examples out in those proportions.
   * A learner left with no example takes one from the largest learner.
   *
   * @param labels the class of each example, in [0, numClasses)
   * @param numClasses the number of classes, at least 1
   * @param learners the number of learners, in [1, labels.length]
   * @param alpha the concentration, finite and &gt; 0: small is skewed, large is near IID
   * @param seed the seed
   * @return one index array per learner
   * @throws IllegalArgumentException if an argument is out of range
   */
  public static int[][] dirichlet(
      int[] labels, int numClasses, int learners, double alpha, long seed) {
    checkLabels(labels, numClasses);
    checkLearners(learners, labels.length);
    checkAlpha(alpha);
    Random plan = new Random(seed);
    double[][] shares = new double[numClasses][];
    for (int c = 0; c < numClasses; c++) {
      shares[c] = sampleDirichlet(learners, alpha, plan);
    }
    int[][] byClass = shuffledByClass(labels, numClasses, new Random(seed ^ SHUFFLE_SALT));
    List<List<Integer>> assigned = emptyLists(learners);
    for (int c = 0; c < numClasses; c++) {
      int[] examples = byClass[c];
      double cumulative = 0;
      int start = 0;
      for (int learner = 0; learner < learners; learner++) {
        cumulative += shares[c][learner];
        int end =
            learner == learners - 1
                ? examples.length
                : (int) Math.min(examples.length, Math.round(cumulative * examples.length));
        for (int i = start; i < end; i++) {
          assigned.get(learner).add(examples[i]);
        }
        start = Math.max(start, end);
      }
    }
    giveEveryLearnerOne(assigned);
    return toSortedArrays(assigned);
  }

  /**
   * Pathological label skew: each learner holds examples of exactly {@code k} classes (fewer only
   * if the data lack some class). Classes are dealt round-robin over a seeded permutation, so each
   * class goes to about {@code learners * k / numClasses} learners, who share its shuffled
   * examples equally. If {@code learners * k < numClasses}, the classes no learner holds are left
   * out.
   *
   * @param labels the class of each example, in [0, numClasses)
   * @param numClasses the number of classes, at least 1
   * @param learners the number of learners, in [1, labels.length]
   * @param k classes per learner, in [1, numClasses]
   * @param seed the seed
   * @return one index array per learner
   * @throws IllegalArgumentException if an argument is out of range, or if some learner's classes
   *     have too few examples to give it one
   */
  public static int[][] labelsPerLearner(
      int[] labels, int numClasses, int learners, int k, long seed) {
    checkLabels(labels, numClasses);
    checkLearners(learners, labels.length);
    if (k < 1 || k > numClasses) {
      throw new IllegalArgumentException(
          String.format("labels per learner must be in [1, %d], got %d", numClasses, k));
    }
    int[] classOrder = identity(numClasses);
    shuffle(classOrder, new Random(seed));
    List<List<Integer>> holders = emptyLists(numClasses);
    int[][] classesOf = new int[learners][k];
    for (int learner = 0; learner < learners; learner++) {
      for (int j = 0; j < k; j++) {
        // k <= numClasses consecutive slots never repeat a class for one learner.
        int c = classOrder[(int) (((long) learner * k + j) % numClasses)];
        classesOf[learner][j] = c;
        holders.get(c).add(learner);
      }
    }
    int[][] byClass = shuffledByClass(labels, numClasses, new Random(seed ^ SHUFFLE_SALT));
    List<List<Integer>> assigned = emptyLists(learners);
    for (int c = 0; c < numClasses; c++) {
      List<Integer> owners = holders.get(c);
      int[] examples = byClass[c];
      for (int i = 0; i < examples.length && !owners.isEmpty(); i++) {
        // Contiguous equal chunks, like iid(): owner t gets examples [t*n/m, (t+1)*n/m).
        int owner = (int) ((long) i * owners.size() / examples.length);
        assigned.get(owners.get(owner)).add(examples[i]);
      }
    }
    for (int learner = 0; learner < learners; learner++) {
      if (assigned.get(learner).isEmpty()) {
        int available = 0;
        for (int c : classesOf[learner]) {
          available += byClass[c].length;
        }
        throw new IllegalArgumentException(
            String.format(
                "labels:%d over %d learners leaves learner %d with no examples: its classes %s"
                    + " have %d examples shared with other learners; use fewer learners or"
                    + " more labels per learner",
                k, learners, learner, Arrays.toString(classesOf[learner]), available));
      }
    }
    return toSortedArrays(assigned);
  }

  /** Draws a point of the symmetric Dirichlet(alpha) simplex in {@code dims} dimensions. */
  static double[] sampleDirichlet(int dims, double alpha, Random rng) {
    // Logs, normalised by log-sum-exp: for alpha << 1 all the Gamma draws can underflow to 0.
    double[] logs = new double[dims];
    double max = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < dims; i++) {
      logs[i] = sampleLogGamma(alpha, rng);
      max = Math.max(max, logs[i]);
    }
    double[] p = new double[dims];
    double sum = 0;
    for (int i = 0; i < dims; i++) {
      p[i] = Math.exp(logs[i] - max);
      sum += p[i];
    }
    for (int i = 0; i < dims; i++) {
      p[i] /= sum;
    }
    return p;
  }

  /**
   * Draws log X for X ~ Gamma(shape, 1) with Marsaglia and Tsang's method (2000), boosted by
   * {@code Gamma(a) = Gamma(a + 1) * U^(1/a)} for shape &lt; 1.
   */
  static double sampleLogGamma(double shape, Random rng) {
    if (shape < 1) {
      // 1 - nextDouble() is in (0, 1], so the log is finite.
      return sampleLogGamma(shape + 1, rng) + Math.log(1 - rng.nextDouble()) / shape;
    }
    double d = shape - 1.0 / 3;
    double c = 1 / Math.sqrt(9 * d);
    while (true) {
      double x = rng.nextGaussian();
      double v = 1 + c * x;
      if (v <= 0) {
        continue;
      }
      v = v * v * v;
      double u = rng.nextDouble();
      double x2 = x * x;
      if (u < 1 - 0.0331 * x2 * x2 || Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) {
        return Math.log(d * v);
      }
    }
  }

  static void checkLabels(int[] labels, int numClasses) {
    if (labels == null) {
      throw new IllegalArgumentException("labels must not be null");
    }
    if (numClasses < 1) {
      throw new IllegalArgumentException("number of classes must be >= 1, got " + numClasses);
    }
    for (int i = 0; i < labels.length; i++) {
      if (labels[i] < 0 || labels[i] >= numClasses) {
        throw new IllegalArgumentException(
            String.format("label %d of example %d not in [0, %d)", labels[i], i, numClasses));
      }
    }
  }

  static void checkAlpha(double alpha) {
    if (!(alpha > 0) || Double.isInfinite(alpha)) {
      throw new IllegalArgumentException("Dirichlet alpha must be finite and > 0, got " + alpha);
    }
  }

  private static void checkLearners(int learners, int numExamples) {
    if (learners < 1) {
      throw new IllegalArgumentException("number of learners must be >= 1, got " + learners);
    }
    if (learners > numExamples) {
      throw new IllegalArgumentException(
          String.format(
              "number of learners %d exceeds the number of examples %d; every learner needs one",
              learners, numExamples));
    }
  }

  /** Moves one example from the largest learner to each empty one. */
  private static void giveEveryLearnerOne(List<List<Integer>> assigned) {
    for (List<Integer> empty : assigned) {
      if (empty.isEmpty()) {
        List<Integer> largest = assigned.get(0);
        for (List<Integer> candidate : assigned) {
          if (candidate.size() > largest.size()) {
            largest = candidate;
          }
        }
        empty.add(largest.remove(largest.size() - 1));
      }
    }
  }

  /** Groups example indices by class, each group shuffled. */
  private static int[][] shuffledByClass(int[] labels, int numClasses, Random rng) {
    int[] counts = new int[numClasses];
    for (int label : labels) {
      counts[label]++;
    }
    int[][] byClass = new int[numClasses][];
    for (int c = 0; c < numClasses; c++) {
      byClass[c] = new int[counts[c]];
    }
    int[] filled = new int[numClasses];
    for (int i = 0; i < labels.length; i++) {
      byClass[labels[i]][filled[labels[i]]++] = i;
    }
    for (int[] group : byClass) {
      shuffle(group, rng);
    }
    return byClass;
  }

  private static int[] identity(int n) {
    int[] values = new int[n];
    for (int i = 0; i < n; i++) {
      values[i] = i;
    }
    return values;
  }

  /** Fisher-Yates. */
  private static void shuffle(int[] values, Random rng) {
    for (int i = values.length - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      int swap = values[i];
      values[i] = values[j];
      values[j] = swap;
    }
  }

  private static List<List<Integer>> emptyLists(int n) {
    List<List<Integer>> lists = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      lists.add(new ArrayList<>());
    }
    return lists;
  }

  private static int[][] toSortedArrays(List<List<Integer>> lists) {
    int[][] arrays = new int[lists.size()][];
    for (int i = 0; i < arrays.length; i++) {
      arrays[i] = lists.get(i).stream().mapToInt(Integer::intValue).sorted().toArray();
    }
    return arrays;
  }
}
