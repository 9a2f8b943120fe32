package dev.flops.api.strategy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.Evaluation;
import dev.flops.api.FitResult;
import dev.flops.api.LearnerFailure;
import dev.flops.api.LearnerResult;
import dev.flops.api.Metrics;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class FedAvgTest {

  private static final Parameters GLOBAL = Parameters.of(
      Tensor.ofFloats("0_W", new long[] {2}, new float[] {0f, 0f}),
      Tensor.ofFloats("0_b", new long[] {1}, new float[] {0f}));

  private static final List<LearnerFailure> NO_FAILURES = List.of();
  private static final List<LearnerFailure> ONE_FAILURE =
      List.of(new LearnerFailure("learner-9", "timed out"));

  // ---- knob validation ----

  private static void assertMessageNames(Exception e, String knob, String value) {
    assertTrue(e.getMessage().contains(knob), () -> "no knob name in: " + e.getMessage());
    assertTrue(e.getMessage().contains(value), () -> "no value '" + value + "' in: " + e.getMessage());
  }


  @ParameterizedTest
  @ValueSource(doubles = {0.0, -0.1, 1.5, Double.NaN, Double.POSITIVE_INFINITY})
  void fractionFit_outsideZeroToOne_throwsNamingKnobAndValue(double fraction) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> FedAvg.builder().fractionFit(fraction));

    assertMessageNames(e, "fractionFit", "was " + fraction);
  }

  @ParameterizedTest
  @ValueSource(doubles = {0.0, -0.1, 1.5, Double.NaN})
  void fractionEvaluate_outsideZeroToOne_throwsNamingKnobAndValue(double fraction) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> FedAvg.builder().fractionEvaluate(fraction));

    assertMessageNames(e, "fractionEvaluate", "was " + fraction);
  }

  @Test
  void fractions_boundaryOneAndSmallPositive_accepted() {
    FedAvg fedAvg = FedAvg.builder().fractionFit(1.0).fractionEvaluate(Double.MIN_VALUE).build();

    assertEquals(1.0, fedAvg.knobs().get("fraction_fit"));
    assertEquals(Double.MIN_VALUE, fedAvg.knobs().get("fraction_evaluate"));
  }

  @Test
  void minFitLearners_zero_throwsNamingKnobAndValue() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> FedAvg.builder().minFitLearners(0));

    assertMessageNames(e, "minFitLearners", "was 0");
  }

  @Test
  void minEvaluateLearners_zero_throwsNamingKnobAndValue() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> FedAvg.builder().minEvaluateLearners(0));

    assertMessageNames(e, "minEvaluateLearners", "was 0");
  }







  @Test
  void defaults_areFullFractionsMinimumsOneAndAcceptFailures() {
    FedAvg fedAvg = FedAvg.withDefaults();

    Map<String, Object> knobs = fedAvg.knobs();
    assertEquals(1.0, knobs.get("fraction_fit"));
    assertEquals(1.0, knobs.get("fraction_evaluate"));
    assertEquals(1, knobs.get("min_fit_learners"));
    assertEquals(1, knobs.get("min_evaluate_learners"));
    assertEquals(true, knobs.get("accept_failures"));
    assertEquals(5, knobs.size(), "loop settings are the training plan's: " + knobs);
  }

  @Test
  void defaults_configsAreEmptyAndEveryLearnerIsSampled() {
    List<String> available = learners(5);

    List<Instruction> fit = FedAvg.withDefaults().configureFit(1, GLOBAL, available);

    assertEquals(available, fit.stream().map(Instruction::learnerId).toList());
    fit.forEach(instruction -> assertEquals(Config.empty(), instruction.config()));
  }

  @Test
  void knobs_reflectTheBuilder() {
    FedAvg fedAvg = FedAvg.builder()
        .fractionFit(0.5).fractionEvaluate(0.25)
        .minFitLearners(2).minEvaluateLearners(3)
        .acceptFailures(false).build();

    assertEquals(Map.of(
        "fraction_fit", 0.5, "fraction_evaluate", 0.25,
        "min_fit_learners", 2, "min_evaluate_learners", 3,
        "accept_failures", false), fedAvg.knobs());
    assertTrue(fedAvg.toString().startsWith("FedAvg{"), fedAvg.toString());
  }






  // ---- strategy state (checkpoints) ----

  @Test
  void restoredState_samplesWhatTheOriginalWouldHaveSampledNext() {
    List<String> pool = learners(20);
    FedAvg original = FedAvg.builder().fractionFit(0.3).build(); // a random seed
    original.configureFit(1, GLOBAL, pool);
    original.configureFit(2, GLOBAL, pool);
    StrategyState state = original.saveState();

    FedAvg resumed = FedAvg.builder().fractionFit(0.3).build(); // another random seed
    resumed.restoreState(state);

    for (int round = 3; round <= 6; round++) {
      assertEquals(ids(original.configureFit(round, GLOBAL, pool)),
          ids(resumed.configureFit(round, GLOBAL, pool)), "round " + round);
    }
    assertEquals(original.saveState(), resumed.saveState());
  }

  @Test
  void restoreState_missingOrBadEntry_throwsNamingIt() {
    FedAvg fedAvg = FedAvg.withDefaults();

    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
        () -> fedAvg.restoreState(StrategyState.of(Map.of("sampling_seed", "1"))));
    IllegalArgumentException notNumber = assertThrows(IllegalArgumentException.class,
        () -> fedAvg.restoreState(
            StrategyState.of(Map.of("sampling_seed", "x1", "sampling_draws", "0"))));

    assertTrue(missing.getMessage().contains("sampling_draws"), missing.getMessage());
    assertMessageNames(notNumber, "sampling_seed", "'x1'");
  }

  // ---- sampling ----

  private static List<String> learners(int count) {
    return IntStream.range(0, count).mapToObj(i -> "learner-" + i).toList();
  }

  private static List<String> ids(List<Instruction> instructions) {
    return instructions.stream().map(Instruction::learnerId).toList();
  }

  @ParameterizedTest(name = "available={0} fraction={1} minFit={2} -> {3}")
  @CsvSource({
      "10, 1.0,  1, 10",
      "10, 0.5,  1, 5",
      "10, 0.35, 1, 3",   // floor(3.5)
      "10, 0.99, 1, 9",   // floor(9.9)
      "10, 0.05, 1, 1",   // floor(0.5) = 0, raised to minFit
      "10, 0.35, 5, 5",   // minFit above the fraction
      "10, 0.5,  12, 10", // minFit above what is available: everyone, no more
      "3,  0.2,  1, 1",
      "1,  0.5,  1, 1",
  })
  void configureFit_samplesMaxOfFloorFractionAndMinFit_cappedAtAvailable(
      int available, double fraction, int minFit, int expected) {
    FedAvg fedAvg = FedAvg.builder()
        .fractionFit(fraction).minFitLearners(minFit)
        .samplingSeed(7).build();
    List<String> pool = learners(available);

    List<String> sampled = ids(fedAvg.configureFit(1, GLOBAL, pool));

    assertEquals(expected, sampled.size());
    assertEquals(expected, new HashSet<>(sampled).size(), "sampled ids must be distinct");
    assertTrue(pool.containsAll(sampled), () -> sampled + " not all in " + pool);
  }

  @ParameterizedTest(name = "available={0} fraction={1} minEvaluate={2} -> {3}")
  @CsvSource({
      "10, 0.35, 1, 3",
      "10, 0.05, 2, 2",
      "4,  0.5,  6, 4",
  })
  void configureEvaluate_samplesWithItsOwnFractionAndMinimum(
      int available, double fraction, int minEvaluate, int expected) {
    FedAvg fedAvg = FedAvg.builder()
        .fractionFit(1.0).fractionEvaluate(fraction)
        .minEvaluateLearners(minEvaluate).build();
    List<String> pool = learners(available);

    List<String> sampled = ids(fedAvg.configureEvaluate(1, GLOBAL, pool));

    assertEquals(expected, sampled.size());
    assertEquals(expected, new HashSet<>(sampled).size());
    assertTrue(pool.containsAll(sampled));
  }

  @Test
  void configureFit_fixedSamplingSeed_isReproducibleAcrossRounds() {
    List<String> pool = learners(20);
    FedAvg first = FedAvg.builder().fractionFit(0.3).samplingSeed(1234L).build();
    FedAvg second = FedAvg.builder().fractionFit(0.3).samplingSeed(1234L).build();

    List<List<String>> firstRounds = new ArrayList<>();
    List<List<String>> secondRounds = new ArrayList<>();
    for (int round = 1; round <= 5; round++) {
      firstRounds.add(ids(first.configureFit(round, GLOBAL, pool)));
      secondRounds.add(ids(second.configureFit(round, GLOBAL, pool)));
    }

    assertEquals(firstRounds, secondRounds);
    // Not the same six every round: the generator advances (20 choose 6 makes a repeat of all
    // five rounds practically impossible with a working shuffle).
    Set<Set<String>> distinctSelections =
        firstRounds.stream().map(HashSet::new).collect(Collectors.toSet());
    assertTrue(distinctSelections.size() > 1, () -> "every round sampled " + firstRounds.get(0));
  }

  @Test
  void configureFit_doesNotChangeTheAvailableList() {
    List<String> pool = new ArrayList<>(learners(10));
    List<String> before = List.copyOf(pool);

    FedAvg.builder().fractionFit(0.5).samplingSeed(3).build().configureFit(1, GLOBAL, pool);

    assertEquals(before, pool);
  }

  // ---- configs ----

  @Test
  void fitConfig_receivesTheRoundNumber() {
    List<Integer> seen = new ArrayList<>();
    FedAvg fedAvg = FedAvg.builder()
        .fitConfig(round -> {
          seen.add(round);
          return Config.of("round", round, "local_epochs", 2);
        })
        .build();

    List<Instruction> round4 = fedAvg.configureFit(4, GLOBAL, learners(3));

    assertEquals(List.of(4), seen);
    assertEquals(3, round4.size());
    for (Instruction instruction : round4) {
      assertEquals(4, instruction.config().getInt("round", -1));
      assertEquals(2, instruction.config().getInt("local_epochs", -1));
    }
  }

  @Test
  void evaluateConfig_receivesTheRoundNumber() {
    FedAvg fedAvg = FedAvg.builder().evaluateConfig(round -> Config.of("round", round)).build();

    List<Instruction> round6 = fedAvg.configureEvaluate(6, GLOBAL, learners(2));

    round6.forEach(instruction -> assertEquals(6, instruction.config().getInt("round", -1)));
  }

  @Test
  void fitConfig_returningNull_throwsNamingTheRound() {
    FedAvg fedAvg = FedAvg.builder().fitConfig(round -> null).build();

    NullPointerException e = assertThrows(NullPointerException.class,
        () -> fedAvg.configureFit(2, GLOBAL, learners(1)));

    assertTrue(e.getMessage().contains("round 2"), e.getMessage());
  }

  // ---- initial parameters ----

  @Test
  void initializeParameters_withoutInitialParameters_returnsTheModels() {
    assertSame(GLOBAL, FedAvg.withDefaults().initializeParameters(GLOBAL));
  }

  @Test
  void initializeParameters_matchingInitialParameters_returnsThem() {
    Parameters initial = Parameters.of(
        Tensor.ofFloats("0_W", new long[] {2}, new float[] {1f, 2f}),
        Tensor.ofFloats("0_b", new long[] {1}, new float[] {3f}));

    assertSame(initial, FedAvg.builder().initialParameters(initial).build()
        .initializeParameters(GLOBAL));
  }

  @Test
  void initializeParameters_mismatchingInitialParameters_throwsDescribingTheMismatch() {
    Parameters initial = Parameters.of(Tensor.ofFloats("0_W", new long[] {2}, new float[2]));
    FedAvg fedAvg = FedAvg.builder().initialParameters(initial).build();

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> fedAvg.initializeParameters(GLOBAL));

    assertTrue(e.getMessage().contains("initialParameters"), e.getMessage());
    assertTrue(e.getMessage().contains("expected 1 tensors"), e.getMessage());
  }

  // ---- evaluation ----

  private static LearnerResult<EvaluateResult> evaluated(String id, double loss, double accuracy,
      long examples) {
    return new LearnerResult<>(id, EvaluateResult.of(loss, accuracy, examples));
  }

  @Test
  void weightedEvaluation_weightsLossAndAccuracyByExamples() {
    List<LearnerResult<EvaluateResult>> results = List.of(
        evaluated("a", 1.0, 0.5, 10),
        evaluated("b", 2.0, 0.9, 30));

    Evaluation evaluation = FedAvg.weightedEvaluation(results);

    // loss (1.0*10 + 2.0*30) / 40 = 70 / 40; accuracy (0.5*10 + 0.9*30) / 40 = 32 / 40
    assertEquals(1.75, evaluation.loss(), 1e-12);
    assertEquals(0.8, evaluation.accuracy(), 1e-12);
    assertEquals(40, evaluation.numExamples());
    assertEquals(2, evaluation.learners());
  }

  @Test
  void weightedEvaluation_averagesAMetricOverTheLearnersThatReportedIt() {
    List<LearnerResult<EvaluateResult>> results = List.of(
        new LearnerResult<>("a", new EvaluateResult(1.0, 10, Map.of("f1", 0.2))),
        new LearnerResult<>("b", new EvaluateResult(3.0, 10, Map.of("f1", 0.6, "auc", 0.9))),
        new LearnerResult<>("c", new EvaluateResult(5.0, 20, Map.of())));

    Evaluation evaluation = FedAvg.weightedEvaluation(results);

    assertEquals((10.0 + 30.0 + 100.0) / 40.0, evaluation.loss(), 1e-12);
    assertEquals(0.4, evaluation.metrics().get("f1"), 1e-12);
    assertEquals(0.9, evaluation.metrics().get("auc"), 1e-12);
    assertTrue(Double.isNaN(evaluation.accuracy()));
    assertFalse(evaluation.metrics().containsKey(Metrics.ACCURACY));
  }

  @Test
  void weightedEvaluation_noResults_throws() {
    assertThrows(IllegalArgumentException.class, () -> FedAvg.weightedEvaluation(List.of()));
  }

  @Test
  void aggregateEvaluate_acceptingFailures_averagesTheResultsThatArrived() {
    Optional<Evaluation> evaluation = FedAvg.withDefaults().aggregateEvaluate(
        1, List.of(evaluated("a", 1.0, 0.5, 10), evaluated("b", 2.0, 0.9, 30)), ONE_FAILURE);

    assertEquals(1.75, evaluation.orElseThrow().loss(), 1e-12);
  }

  @Test
  void aggregateEvaluate_notAcceptingFailures_withAFailure_isEmpty() {
    FedAvg strict = FedAvg.builder().acceptFailures(false).build();

    Optional<Evaluation> evaluation = strict.aggregateEvaluate(
        1, List.of(evaluated("a", 1.0, 0.5, 10)), ONE_FAILURE);

    assertEquals(Optional.empty(), evaluation);
  }

  @Test
  void aggregateEvaluate_notAcceptingFailures_withoutFailures_averages() {
    FedAvg strict = FedAvg.builder().acceptFailures(false).build();

    Optional<Evaluation> evaluation = strict.aggregateEvaluate(
        1, List.of(evaluated("a", 1.0, 0.5, 10)), NO_FAILURES);

    assertEquals(1.0, evaluation.orElseThrow().loss());
  }

  @Test
  void aggregateEvaluate_noResults_isEmpty() {
    assertEquals(Optional.empty(),
        FedAvg.withDefaults().aggregateEvaluate(1, List.of(), ONE_FAILURE));
  }

  // ---- fit aggregation ----

  private static FitResult fit(long examples, float... w0AndB) {
    return FitResult.of(Parameters.of(
        Tensor.ofFloats("0_W", new long[] {2}, new float[] {w0AndB[0], w0AndB[1]}),
        Tensor.ofFloats("0_b", new long[] {1}, new float[] {w0AndB[2]})), examples);
  }

  /** Offers an update as the aggregator does: lent for the call, released after it. */
  private static void offer(FitAggregation aggregation, String id, long examples,
      float... w0AndB) {
    BorrowedUpdate update = BorrowedUpdate.lend(id, fit(examples, w0AndB));
    try {
      aggregation.accept(update);
    } finally {
      update.release();
    }
  }

  @Test
  void fitAggregation_producesTheExampleWeightedMean() {
    DoubleKernel kernel = new DoubleKernel();
    FitAggregation aggregation = FedAvg.withDefaults().beginFitAggregation(1, GLOBAL, kernel);

    offer(aggregation, "a", 10, 1f, 2f, -4f);
    offer(aggregation, "b", 30, 3f, 6f, 4f);
    AggregationResult result = aggregation.finish(NO_FAILURES);
    Parameters mean = result.parameters().orElseThrow();

    // W: (1*10 + 3*30)/40 = 2.5, (2*10 + 6*30)/40 = 5; b: (-4*10 + 4*30)/40 = 2
    assertEquals(List.of("0_W", "0_b"), mean.names());
    assertArrayEquals(new float[] {2.5f, 5f}, mean.get("0_W").toFloatArray());
    assertArrayEquals(new float[] {2f}, mean.get("0_b").toFloatArray());
    assertEquals(List.of(10.0, 30.0), kernel.lastSum.weights);
    assertTrue(kernel.lastSum.closed, "finish must close the weighted sum");
    assertEquals(2, result.updates());
    assertEquals(40, result.totalExamples());
  }

  @Test
  void fitAggregation_singleUpdate_meanIsThatUpdate() {
    FitAggregation aggregation =
        FedAvg.withDefaults().beginFitAggregation(1, GLOBAL, new DoubleKernel());

    offer(aggregation, "a", 7, 0.1f, -0.2f, 3f);

    assertEquals(fit(7, 0.1f, -0.2f, 3f).parameters(),
        aggregation.finish(NO_FAILURES).parameters().orElseThrow());
  }

  @Test
  void fitAggregation_acceptingFailures_averagesTheUpdatesThatArrived() {
    FitAggregation aggregation =
        FedAvg.withDefaults().beginFitAggregation(1, GLOBAL, new DoubleKernel());

    offer(aggregation, "a", 10, 1f, 1f, 1f);

    assertTrue(aggregation.finish(ONE_FAILURE).parameters().isPresent());
  }

  @Test
  void fitAggregation_nothingAccepted_finishIsEmpty() {
    DoubleKernel kernel = new DoubleKernel();
    FitAggregation aggregation = FedAvg.withDefaults().beginFitAggregation(1, GLOBAL, kernel);

    assertEquals(Optional.empty(), aggregation.finish(ONE_FAILURE).parameters());
    assertTrue(kernel.lastSum.closed);
  }

  @Test
  void fitAggregation_discard_freesTheSumWithoutAMean() {
    DoubleKernel kernel = new DoubleKernel();
    FitAggregation aggregation = FedAvg.withDefaults().beginFitAggregation(1, GLOBAL, kernel);
    offer(aggregation, "a", 10, 1f, 2f, 3f);

    aggregation.discard();

    assertTrue(kernel.lastSum.closed, "discard must close the weighted sum");
  }

  @Test
  void fitAggregation_notAcceptingFailures_withAFailure_finishIsEmpty() {
    DoubleKernel kernel = new DoubleKernel();
    FitAggregation aggregation =
        FedAvg.builder().acceptFailures(false).build().beginFitAggregation(1, GLOBAL, kernel);
    offer(aggregation, "a", 10, 1f, 2f, 3f);

    assertEquals(Optional.empty(), aggregation.finish(ONE_FAILURE).parameters());
    assertTrue(kernel.lastSum.closed);
  }

  @Test
  void fitAggregation_notAcceptingFailures_withoutFailures_averages() {
    FitAggregation aggregation = FedAvg.builder().acceptFailures(false).build()
        .beginFitAggregation(1, GLOBAL, new DoubleKernel());
    offer(aggregation, "a", 10, 1f, 2f, 3f);

    assertTrue(aggregation.finish(NO_FAILURES).parameters().isPresent());
  }

  @Test
  void fitAggregation_beginsTheSumWithTheGlobalParametersAsTemplate() {
    DoubleKernel kernel = new DoubleKernel();

    FedAvg.withDefaults().beginFitAggregation(3, GLOBAL, kernel);

    assertSame(GLOBAL, kernel.lastSum.template);
  }

  @Test
  void doubleKernel_rejectsMismatchedStructure() {
    // Guards the test double itself, so that the aggregation tests above cannot pass on a kernel
    // that ignores its input.
    DoubleKernel.Sum sum = new DoubleKernel().begin(GLOBAL);
    Parameters wrong = Parameters.of(Tensor.ofFloats("0_W", 1f, 2f));

    assertThrows(IllegalArgumentException.class, () -> sum.add(wrong, 1.0));
    assertThrows(IllegalStateException.class, sum::mean);
  }

  /**
   * A tiny double-precision {@link AveragingKernel} written for these tests (the aggregator's real
   * kernel is ND4J and lives in another module): it keeps one double per element and divides by the
   * total weight in {@link Sum#mean()}. It also records what it was given so tests can check it.
   */
  static final class DoubleKernel implements AveragingKernel {
    Sum lastSum;

    @Override
    public Sum begin(Parameters template) {
      lastSum = new Sum(template);
      return lastSum;
    }

    static final class Sum implements AveragingKernel.WeightedSum {
      final Parameters template;
      final double[][] sums;
      final List<Double> weights = new ArrayList<>();
      boolean closed;

      Sum(Parameters template) {
        this.template = template;
        this.sums = new double[template.size()][];
        for (int i = 0; i < template.size(); i++) {
          sums[i] = new double[Math.toIntExact(template.tensors().get(i).elementCount())];
        }
      }

      @Override
      public void add(Parameters parameters, double weight) {
        if (closed) {
          throw new IllegalStateException("sum is closed");
        }
        template.describeMismatch(parameters).ifPresent(mismatch -> {
          throw new IllegalArgumentException(mismatch);
        });
        if (!(weight > 0) || Double.isInfinite(weight)) {
          throw new IllegalArgumentException("weight must be positive and finite: " + weight);
        }
        for (int i = 0; i < sums.length; i++) {
          float[] values = parameters.tensors().get(i).toFloatArray();
          for (int j = 0; j < values.length; j++) {
            sums[i][j] += weight * values[j];
          }
        }
        weights.add(weight);
      }

      @Override
      public int count() {
        return weights.size();
      }

      @Override
      public double totalWeight() {
        return weights.stream().mapToDouble(Double::doubleValue).sum();
      }

      @Override
      public Parameters mean() {
        if (weights.isEmpty()) {
          throw new IllegalStateException("nothing was added");
        }
        double total = totalWeight();
        List<Tensor> tensors = new ArrayList<>();
        for (int i = 0; i < sums.length; i++) {
          Tensor spec = template.tensors().get(i);
          float[] mean = new float[sums[i].length];
          for (int j = 0; j < mean.length; j++) {
            mean[j] = (float) (sums[i][j] / total);
          }
          tensors.add(Tensor.ofFloats(spec.name(), spec.shape(), mean));
        }
        return new Parameters(tensors);
      }

      @Override
      public void close() {
        closed = true;
      }
    }
  }
}
