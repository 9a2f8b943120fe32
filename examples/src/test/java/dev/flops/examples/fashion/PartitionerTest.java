package dev.flops.examples.fashion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class PartitionerTest {

  private static final int CLASSES = 10;
  /** Balanced labels in a scrambled order, like Fashion-MNIST's. */
  private static final int[] TRAIN = scrambledLabels(6000, 1);
  private static final int[] TEST = scrambledLabels(1000, 2);

  static Stream<Arguments> schemes() {
    return Stream.of(
        Arguments.of(new Partitioning.Iid(), 7),
        Arguments.of(new Partitioning.Dirichlet(0.1), 20),
        Arguments.of(new Partitioning.Dirichlet(1.0), 10),
        Arguments.of(new Partitioning.Dirichlet(100), 3),
        Arguments.of(new Partitioning.Labels(2), 10),
        Arguments.of(new Partitioning.Labels(3), 7));
  }

  @ParameterizedTest(name = "{0} over {1} learners")
  @MethodSource("schemes")
  void shardsAreNonEmptyDisjointAndSorted(Partitioning scheme, int learners) {
    int[][] shards = scheme.split(TRAIN, CLASSES, learners, 42);

    assertEquals(learners, shards.length);
    boolean[] seen = new boolean[TRAIN.length];
    for (int[] shard : shards) {
      assertTrue(shard.length > 0, "every learner gets an example");
      for (int i = 0; i < shard.length; i++) {
        assertFalse(seen[shard[i]], "example " + shard[i] + " given twice");
        seen[shard[i]] = true;
        assertTrue(i == 0 || shard[i - 1] < shard[i], "ascending");
      }
    }
  }

  @ParameterizedTest(name = "{0} over {1} learners")
  @MethodSource("schemes")
  void sameSeedGivesTheSameSplitAndAnotherSeedAnother(Partitioning scheme, int learners) {
    int[][] first = scheme.split(TRAIN, CLASSES, learners, 42);

    assertTrue(Arrays.deepEquals(first, scheme.split(TRAIN, CLASSES, learners, 42)));
    assertFalse(Arrays.deepEquals(first, scheme.split(TRAIN, CLASSES, learners, 43)));
  }

  @Test
  void iidCoversAllExamplesInShardsEqualToWithinOne() {
    int[][] shards = Partitioner.iid(1003, 10, 7);

    assertEquals(1003, Arrays.stream(shards).mapToInt(s -> s.length).sum());
    for (int[] shard : shards) {
      assertTrue(shard.length == 100 || shard.length == 101, "size " + shard.length);
    }
    assertArrayEquals(
        IntStream.range(0, 1003).toArray(),
        Arrays.stream(shards).flatMapToInt(Arrays::stream).sorted().toArray());
  }

  @Test
  void iidShardsMixAllClasses() {
    for (int[] shard : Partitioner.iid(TRAIN.length, 10, 7)) {
      assertEquals(CLASSES, classesAbove(shard, TRAIN, 0.05));
    }
  }

  @Test
  void dirichletCoversAllExamples() {
    for (double alpha : new double[] {0.05, 0.5, 5}) {
      int[][] shards = Partitioner.dirichlet(TRAIN, CLASSES, 15, alpha, 3);

      assertEquals(
          TRAIN.length, Arrays.stream(shards).mapToInt(s -> s.length).sum(), "alpha " + alpha);
    }
  }

  @Test
  void smallAlphaIsMoreSkewedThanLargeAlpha() {
    double skewed = meanClassesAbove5Percent(Partitioner.dirichlet(TRAIN, CLASSES, 20, 0.1, 5));
    double mild = meanClassesAbove5Percent(Partitioner.dirichlet(TRAIN, CLASSES, 20, 1.0, 5));
    double flat = meanClassesAbove5Percent(Partitioner.dirichlet(TRAIN, CLASSES, 20, 100, 5));

    assertTrue(skewed < mild, "alpha 0.1: " + skewed + " classes, alpha 1: " + mild);
    assertTrue(mild < flat, "alpha 1: " + mild + " classes, alpha 100: " + flat);
    assertTrue(skewed < 4, "alpha 0.1 leaves few classes per learner: " + skewed);
    assertEquals(10.0, flat, 0.0, "alpha 100 is nearly IID");
  }

  @Test
  void tinyAlphaStillGivesEveryLearnerAnExample() {
    int[] labels = scrambledLabels(60, 9);

    int[][] shards = Partitioner.dirichlet(labels, CLASSES, 60, 0.01, 1);

    for (int[] shard : shards) {
      assertEquals(1, shard.length);
    }
  }

  @Test
  void labelsTwoGivesEachLearnerExactlyTwoClassesAndCoversAll() {
    int[][] shards = Partitioner.labelsPerLearner(TRAIN, CLASSES, 10, 2, 11);

    for (int[] shard : shards) {
      assertEquals(2, classesAbove(shard, TRAIN, 0), Arrays.toString(classesOf(shard, TRAIN)));
    }
    assertEquals(TRAIN.length, Arrays.stream(shards).mapToInt(s -> s.length).sum());
  }

  @Test
  void labelsLeavesOutClassesNoLearnerHolds() {
    int[][] shards = Partitioner.labelsPerLearner(TRAIN, CLASSES, 2, 2, 11);

    int held = 0;
    for (int[] shard : shards) {
      assertEquals(2, classesAbove(shard, TRAIN, 0));
      held += shard.length;
    }
    assertEquals(4 * 600, held, "4 of the 10 balanced classes");
  }

  @Test
  void testSetFollowsTheTrainingPlanForTheSameSeed() {
    int learners = 8;
    int[][] trainLabels = Partitioner.labelsPerLearner(TRAIN, CLASSES, learners, 2, 5);
    int[][] testLabels = Partitioner.labelsPerLearner(TEST, CLASSES, learners, 2, 5);
    int[][] trainDirichlet = Partitioner.dirichlet(TRAIN, CLASSES, learners, 0.1, 5);
    int[][] testDirichlet = Partitioner.dirichlet(TEST, CLASSES, learners, 0.1, 5);

    for (int i = 0; i < learners; i++) {
      assertArrayEquals(classesOf(trainLabels[i], TRAIN), classesOf(testLabels[i], TEST));
      assertEquals(
          majorityClass(trainDirichlet[i], TRAIN),
          majorityClass(testDirichlet[i], TEST),
          "learner " + i + " majority class");
    }
  }

  @Test
  void gammaSamplesHaveTheRightMeanAndVariance() {
    Random rng = new Random(1);
    for (double shape : new double[] {0.3, 1, 4.5}) {
      int n = 200_000;
      double sum = 0;
      double sumSquares = 0;
      for (int i = 0; i < n; i++) {
        double x = Math.exp(Partitioner.sampleLogGamma(shape, rng));
        sum += x;
        sumSquares += x * x;
      }
      double mean = sum / n;
      double variance = sumSquares / n - mean * mean;
      // Gamma(k, 1) has mean k and variance k.
      assertEquals(shape, mean, 0.02 * Math.max(1, shape), "mean for shape " + shape);
      assertEquals(shape, variance, 0.05 * Math.max(1, shape), "variance for shape " + shape);
    }
  }

  @Test
  void dirichletDrawsSumToOneEvenForTinyAlpha() {
    double[] p = Partitioner.sampleDirichlet(50, 0.001, new Random(3));

    assertEquals(1.0, Arrays.stream(p).sum(), 1e-12);
    assertTrue(Arrays.stream(p).allMatch(v -> v >= 0 && !Double.isNaN(v)));
  }

  @Test
  void badArgumentsThrowNamingTheValue() {
    assertMessage(() -> Partitioner.iid(10, 0, 1), "number of learners must be >= 1, got 0");
    assertMessage(
        () -> Partitioner.iid(10, 11, 1),
        "number of learners 11 exceeds the number of examples 10");
    assertMessage(
        () -> Partitioner.dirichlet(TRAIN, CLASSES, 3, 0, 1),
        "alpha must be finite and > 0, got 0.0");
    assertMessage(() -> Partitioner.dirichlet(TRAIN, CLASSES, 3, Double.NaN, 1), "got NaN");
    assertMessage(
        () -> Partitioner.labelsPerLearner(TRAIN, CLASSES, 3, 0, 1),
        "labels per learner must be in [1, 10], got 0");
    assertMessage(
        () -> Partitioner.labelsPerLearner(TRAIN, CLASSES, 3, 11, 1),
        "labels per learner must be in [1, 10], got 11");
    assertMessage(
        () -> Partitioner.dirichlet(new int[] {0, 1, 10}, CLASSES, 2, 1, 1),
        "label 10 of example 2 not in [0, 10)");
    assertMessage(
        () -> new Partitioning.Iid().split(new int[] {1, 2}, CLASSES, 3, 1),
        "number of learners 3 exceeds the number of examples 2");
  }

  @Test
  void labelsFailsWhenALearnersClassesCannotFeedIt() {
    int[] labels = {0, 0, 0, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9};

    assertMessage(
        () -> Partitioner.labelsPerLearner(labels, CLASSES, 15, 1, 1), "with no examples");
  }

  private static void assertMessage(Executable call, String expected) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().contains(expected), e.getMessage());
  }

  private static int[] scrambledLabels(int n, long seed) {
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      labels[i] = i % CLASSES;
    }
    Random rng = new Random(seed);
    for (int i = n - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      int swap = labels[i];
      labels[i] = labels[j];
      labels[j] = swap;
    }
    return labels;
  }

  private static int[] classCounts(int[] shard, int[] labels) {
    int[] counts = new int[CLASSES];
    for (int i : shard) {
      counts[labels[i]]++;
    }
    return counts;
  }

  private static int[] classesOf(int[] shard, int[] labels) {
    int[] counts = classCounts(shard, labels);
    return IntStream.range(0, CLASSES).filter(c -> counts[c] > 0).toArray();
  }

  private static int classesAbove(int[] shard, int[] labels, double fraction) {
    int[] counts = classCounts(shard, labels);
    return (int) Arrays.stream(counts).filter(c -> c > fraction * shard.length).count();
  }

  private static int majorityClass(int[] shard, int[] labels) {
    int[] counts = classCounts(shard, labels);
    int best = 0;
    for (int c = 1; c < CLASSES; c++) {
      if (counts[c] > counts[best]) {
        best = c;
      }
    }
    return best;
  }

  private static double meanClassesAbove5Percent(int[][] shards) {
    return Arrays.stream(shards)
        .mapToInt(s -> classesAbove(s, TRAIN, 0.05))
        .average()
        .orElseThrow();
  }
}
