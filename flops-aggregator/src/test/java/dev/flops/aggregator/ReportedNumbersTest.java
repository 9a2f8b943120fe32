package dev.flops.aggregator;

import static dev.flops.aggregator.HostileFederation.RoundOne.HOSTILE_TASK_FAILED;
import static io.grpc.Status.Code.INVALID_ARGUMENT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.LearnerFailure;
import dev.flops.api.Parameters;
import dev.flops.api.ReportedNumbers;
import dev.flops.api.RoundRanking;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.proto.v1.EvaluateResult;
import dev.flops.proto.v1.Scalar;
import dev.flops.proto.v1.UploadHeader;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every number a learner reports (loss, example count, metrics; in evaluate results and in fit
 * uploads) is checked when it arrives, over real gRPC on loopback: a bad one fails only that
 * learner's task with a message naming the learner, the field and the value, the others are
 * averaged as if it had not been sent, and the federation goes on with that learner.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@DisplayName("Reported numbers are checked on arrival")
class ReportedNumbersTest {
  // Set by the helper that builds the aggregator, for the test's train(plan, strategy) calls.
  private TrainingPlan plan;
  private FedAvg strategy;

  private static final long EXAMPLES = 10;

  static Scalar number(double value) {
    return Scalar.newBuilder().setDoubleValue(value).build();
  }

  static EvaluateResult.Builder evaluation(double loss, long examples, double accuracy) {
    return EvaluateResult.newBuilder().setLoss(loss).setNumExamples(examples)
        .putMetrics("accuracy", number(accuracy));
  }

  /**
   * Three hand-driven learners, 10 examples each: two report {@code accuracy(round)} and
   * {@code accuracy(round) + 0.1}, the third what {@code bad} makes of the round's task.
   */
  static final class Run {
    final List<RawLearner> learners = new ArrayList<>();
    final TrainingResult result;

    Run(int rounds, Function<Long, Double> accuracy,
        Function<RawLearner.Assigned, EvaluateResult.Builder> bad,
        UnaryOperator<TrainingPlan.Builder> knobs) throws Exception {
      Parameters initial = Federations.randomParameters(3, false);
      TrainingPlan plan = knobs.apply(TrainingPlan.builder().rounds(rounds).minAvailableLearners(3)
          .tracking(Tracking.off())).build();
      FedAvg strategy = FedAvg.builder().build();
      try (Aggregator aggregator = Aggregator.builder()
              .host("127.0.0.1").port(0)
              .model(new ArrayModel(initial))
          .build().start()) {
        List<CompletableFuture<Void>> served = new ArrayList<>();
        for (String name : List.of("good-a", "good-b", "bad")) {
          learners.add(RawLearner.join(aggregator.port(), name, 1f, EXAMPLES));
        }
        served.add(learners.get(0).serveTheRest(
            task -> evaluation(0.5, EXAMPLES, accuracy.apply(task.round()))));
        served.add(learners.get(1).serveTheRest(
            task -> evaluation(0.5, EXAMPLES, accuracy.apply(task.round()) + 0.1)));
        served.add(learners.get(2).serveTheRest(bad));
        result = aggregator.train(plan, strategy);
        aggregator.shutdownLearners();
        for (CompletableFuture<Void> learner : served) {
          learner.get(10, TimeUnit.SECONDS);
        }
      } finally {
        for (RawLearner learner : learners) {
          learner.close();
        }
      }
    }

    RawLearner bad() {
      return learners.get(2);
    }

    /** Checks that round {@code r} averaged the two good learners and refused the bad one. */
    void assertBadRefused(int round, double accuracy, String... described) {
      RoundSummary summary = result.rounds().get(round - 1);
      assertEquals(3, summary.fitSucceeded(), "every learner still fits in round " + round);
      assertEquals(2, summary.evaluateSucceeded());
      assertEquals(1, summary.evaluateFailed());
      assertEquals(accuracy, summary.accuracy(), 1e-12, "round " + round);
      assertEquals(0.5, summary.loss(), 1e-12);
      LearnerFailure failure = summary.failures().get(0);
      assertEquals(bad().id(), failure.learnerId());
      String prefix = bad().id() + " (bad): evaluation refused: ";
      assertTrue(failure.reason().startsWith(prefix), failure.reason());
      for (String part : described) {
        assertTrue(failure.reason().contains(part), () -> "'" + part + "' missing from: "
            + failure.reason());
      }
    }
  }

  @Test
  void nanAccuracyOfOneLearner_isRefused_theOthersAverage() throws Exception {
    Run run = new Run(1, round -> 0.6, task -> evaluation(0.5, EXAMPLES, Double.NaN), b -> b);

    run.assertBadRefused(1, 0.65, "metric 'accuracy' is NaN",
        "a learner must report finite metrics");
    assertEquals(1, run.result.best().orElseThrow().round());
  }

  @Test
  void nanAccuracyEveryRound_roundsStillRankByTheOthers_bestIsTheLast() throws Exception {
    Run run = new Run(3, round -> 0.6 + 0.05 * round,
        task -> evaluation(0.5, EXAMPLES, Double.NaN), b -> b);

    run.assertBadRefused(1, 0.70, "metric 'accuracy' is NaN");
    run.assertBadRefused(2, 0.75, "metric 'accuracy' is NaN");
    run.assertBadRefused(3, 0.80, "metric 'accuracy' is NaN");
    assertEquals(3, run.result.best().orElseThrow().round());
  }

  static Stream<Arguments> badEvaluations() {
    long unsignedMax = -1L; // 2^64 - 1 on the wire, which carries num_examples as uint64
    EvaluateResult.Builder tooManyMetrics = evaluation(0.5, EXAMPLES, 0.1);
    for (int i = 0; i < 300; i++) {
      tooManyMetrics.putMetrics("m" + i, number(i));
    }
    return Stream.of(
        Arguments.of("accuracy +Infinity", evaluation(0.5, EXAMPLES, Double.POSITIVE_INFINITY),
            new String[] {"metric 'accuracy' is Infinity"}),
        Arguments.of("accuracy -Infinity", evaluation(0.5, EXAMPLES, Double.NEGATIVE_INFINITY),
            new String[] {"metric 'accuracy' is -Infinity"}),
        Arguments.of("loss -1e300 with 1e18 examples",
            evaluation(-1e300, 1_000_000_000_000_000_000L, 0.9),
            new String[] {"loss is -1.0E300", "1e100"}),
        Arguments.of("1e18 examples", evaluation(0.5, 1_000_000_000_000_000_000L, 0.9),
            new String[] {"num_examples is 1000000000000000000", "4294967296"}),
        Arguments.of("2^64-1 examples", evaluation(0.5, unsignedMax, 0.9),
            new String[] {"num_examples is 18446744073709551615"}),
        Arguments.of("0 examples", evaluation(0.5, 0, 0.9),
            new String[] {"num_examples is 0"}),
        Arguments.of("loss NaN", evaluation(Double.NaN, EXAMPLES, 0.9),
            new String[] {"loss is NaN", "a finite loss"}),
        Arguments.of("loss +Infinity", evaluation(Double.POSITIVE_INFINITY, EXAMPLES, 0.9),
            new String[] {"loss is Infinity"}),
        Arguments.of("loss 1e300", evaluation(1e300, EXAMPLES, 0.9),
            new String[] {"loss is 1.0E300"}),
        Arguments.of("metric 1e300",
            evaluation(0.5, EXAMPLES, 0.9).putMetrics("mse", number(1e300)),
            new String[] {"metric 'mse' is 1.0E300"}),
        Arguments.of("accuracy as a string", evaluation(0.5, EXAMPLES, 0.9)
                .putMetrics("accuracy", Scalar.newBuilder().setStringValue("high").build()),
            new String[] {"metric 'accuracy' is a string (\"high\")"}),
        Arguments.of("accuracy as a bool", evaluation(0.5, EXAMPLES, 0.9)
                .putMetrics("accuracy", Scalar.newBuilder().setBoolValue(true).build()),
            new String[] {"metric 'accuracy' is a bool (true)", "ranked by 'accuracy'"}),
        Arguments.of("metric without a value", evaluation(0.5, EXAMPLES, 0.9)
                .putMetrics("f1", Scalar.getDefaultInstance()),
            new String[] {"'f1'", "no value"}),
        Arguments.of("metric name escaping a directory", evaluation(0.5, EXAMPLES, 0.9)
                .putMetrics("../../escape", number(1)),
            new String[] {"metric name '../../escape'"}),
        Arguments.of("300 metrics", tooManyMetrics, new String[] {"301 metrics", "256"}));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badEvaluations")
  void badEvaluation_failsOnlyThatLearnersTask(String what, EvaluateResult.Builder bad,
      String[] described) throws Exception {
    Run run = new Run(2, round -> 0.6, task -> bad.clone(), b -> b);

    run.assertBadRefused(1, 0.65, described);
    run.assertBadRefused(2, 0.65, described);
    assertEquals(2, run.result.rounds().size(), "the federation goes on");
  }

  @Test
  void boolForAMetricNotRankedBy_isAcceptedAsZeroOrOne() throws Exception {
    Run run = new Run(1, round -> 0.6, task -> evaluation(0.5, EXAMPLES, 0.8)
        .putMetrics("converged", Scalar.newBuilder().setBoolValue(true).build()), b -> b);

    RoundSummary round = run.result.finalRound();
    assertEquals(3, round.evaluateSucceeded());
    assertEquals(0.7, round.accuracy(), 1e-12);
    assertEquals(1.0, round.evaluation().metrics().get("converged"), 1e-12);
  }

  @Test
  void boolForTheConfiguredRankingMetric_isRefused() throws Exception {
    Run run = new Run(1, round -> 0.6, task -> evaluation(0.5, EXAMPLES, 0.6)
            .putMetrics("mse", Scalar.newBuilder().setBoolValue(false).build()),
        b -> b.bestRound(RoundRanking.minimize("mse")));

    run.assertBadRefused(1, 0.65, "metric 'mse' is a bool (false)", "ranked by 'mse'");
  }

  private Aggregator startAggregator(Parameters initial, int rounds, int learners)
      throws Exception {
    plan = TrainingPlan.builder().rounds(rounds).minAvailableLearners(learners)
        .tracking(Tracking.off()).build();
    strategy = FedAvg.builder().build();
    return Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .build().start();
  }

  @Test
  void realLearnerWhoseTrainerReportsNaN_failsThatTaskOnTheLearner_theOthersAverage()
      throws Exception {
    Parameters initial = Federations.randomParameters(5, false);
    try (Aggregator aggregator = startAggregator(initial, 1, 3)) {
      List<CompletableFuture<Void>> learners = List.of(
          Federations.startLearner("good-a", aggregator.port(),
              new FakeTrainer(initial, 10, p -> p, 0.5, 0.6)),
          Federations.startLearner("good-b", aggregator.port(),
              new FakeTrainer(initial, 10, p -> p, 0.5, 0.7)),
          Federations.startLearner("diverged", aggregator.port(),
              new FakeTrainer(initial, 10, p -> p, 0.5, Double.NaN)));

      RoundSummary round = aggregator.train(plan, strategy).finalRound();
      aggregator.shutdownLearners();

      assertEquals(0.65, round.accuracy(), 1e-12);
      assertEquals(2, round.evaluateSucceeded());
      assertEquals(1, round.evaluateFailed());
      String reason = round.failures().get(0).reason();
      assertTrue(reason.contains("metric 'accuracy' is NaN"), reason);
      for (CompletableFuture<Void> learner : learners) {
        learner.get(10, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void updatesWhoseWeightedSumOverflowsFloat32_areNotAggregated_theModelStaysFinite()
      throws Exception {
    Parameters initial = Federations.randomParameters(6, false);
    try (Aggregator aggregator = startAggregator(initial, 2, 2)) {
      // Each update is finite and within the rules, but 3e38 x 2^32 examples is not a float32.
      List<CompletableFuture<Void>> learners = List.of(
          Federations.startLearner("huge", aggregator.port(), new FakeTrainer(initial,
              ReportedNumbers.MAX_EXAMPLES, p -> FakeTrainer.add(p, 3e38f),
              0.5, 0.6)),
          Federations.startLearner("normal", aggregator.port(),
              FakeTrainer.adding(initial, 1f, 10)));

      TrainingResult result = aggregator.train(plan, strategy);
      aggregator.shutdownLearners();

      assertEquals(2, result.rounds().size(), "the federation goes on");
      assertEquals(initial, result.finalParameters(), "no non-finite aggregate became global");
      for (CompletableFuture<Void> learner : learners) {
        learner.get(10, TimeUnit.SECONDS);
      }
    }
  }

  @Nested
  @DisplayName("fit uploads: the header's numbers, before any data")
  class FitHeader {

    static Stream<Arguments> badHeaders() {
      return Stream.of(
          Arguments.of("0 examples", (UnaryOperator<UploadHeader.Builder>)
              h -> h.setNumExamples(0), "num_examples is 0"),
          Arguments.of("1e18 examples", (UnaryOperator<UploadHeader.Builder>)
              h -> h.setNumExamples(1_000_000_000_000_000_000L),
              "num_examples is 1000000000000000000"),
          Arguments.of("2^64-1 examples", (UnaryOperator<UploadHeader.Builder>)
              h -> h.setNumExamples(-1L), "num_examples is 18446744073709551615"),
          Arguments.of("train_loss NaN", (UnaryOperator<UploadHeader.Builder>)
              h -> h.putMetrics("train_loss", number(Double.NaN)), "metric 'train_loss' is NaN"),
          Arguments.of("train_loss -Infinity", (UnaryOperator<UploadHeader.Builder>)
              h -> h.putMetrics("train_loss", number(Double.NEGATIVE_INFINITY)),
              "metric 'train_loss' is -Infinity"),
          Arguments.of("train_loss 1e300", (UnaryOperator<UploadHeader.Builder>)
              h -> h.putMetrics("train_loss", number(1e300)), "metric 'train_loss' is 1.0E300"),
          Arguments.of("a string metric", (UnaryOperator<UploadHeader.Builder>)
              h -> h.putMetrics("note", Scalar.newBuilder().setStringValue("ok").build()),
              "metric 'note' is a string (\"ok\")"),
          Arguments.of("a bad metric name", (UnaryOperator<UploadHeader.Builder>)
              h -> h.putMetrics("a/../b", number(1)), "metric name 'a/../b'"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badHeaders")
    void refused_taskFails_othersAveraged(String what, UnaryOperator<UploadHeader.Builder> edit,
        String described) throws Exception {
      HostileInputTest.assertUploadRefused(
          upload -> HostileInputTest.editHeader(upload, edit), INVALID_ARGUMENT,
          HOSTILE_TASK_FAILED, described, "(hostile)");
    }
  }
}
