package dev.flops.api.strategy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.EvaluateResult;
import dev.flops.api.Evaluation;
import dev.flops.api.FitResult;
import dev.flops.api.LearnerResult;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Flower's fit/evaluate metrics aggregation functions, as FedAvg's builder knobs. */
class MetricsAggregationTest {

  private static final Parameters GLOBAL = Parameters.of(Tensor.ofFloats("w", 0f));

  private static AggregationResult fitRound(FedAvg strategy) {
    FitAggregation aggregation =
        strategy.beginFitAggregation(1, GLOBAL, new FedAvgTest.DoubleKernel());
    offer(aggregation, "a", 10, Map.of("train_loss", 1.0, "seconds", 4.0));
    offer(aggregation, "b", 30, Map.of("train_loss", 3.0));
    return aggregation.finish(List.of());
  }

  private static void offer(FitAggregation aggregation, String id, long examples,
      Map<String, Double> metrics) {
    BorrowedUpdate update = BorrowedUpdate.lend(id,
        new FitResult(Parameters.of(Tensor.ofFloats("w", 1f)), examples, metrics));
    try {
      aggregation.accept(update);
    } finally {
      update.release();
    }
  }

  @Test
  void defaultFitMetrics_areTheExampleWeightedMeanOverTheLearnersReportingEach() {
    AggregationResult result = fitRound(FedAvg.withDefaults());
    // train_loss (1*10 + 3*30) / 40 = 2.5; seconds only from a
    assertEquals(Map.of("train_loss", 2.5, "seconds", 4.0), result.metrics());
  }

  @Test
  void aFitFunction_receivesEveryReportInArrivalOrderAndItsResultIsTheRounds() {
    List<ReportedMetrics> seen = new ArrayList<>();
    FedAvg strategy = FedAvg.builder().fitMetricsAggregation(reports -> {
      seen.addAll(reports);
      return Map.of("max_train_loss", reports.stream()
          .mapToDouble(r -> r.metrics().get("train_loss")).max().orElseThrow());
    }).build();

    AggregationResult result = fitRound(strategy);

    assertEquals(Map.of("max_train_loss", 3.0), result.metrics());
    assertEquals(List.of(
        new ReportedMetrics("a", 10, Map.of("train_loss", 1.0, "seconds", 4.0)),
        new ReportedMetrics("b", 30, Map.of("train_loss", 3.0))), seen);
  }

  @Test
  void anEvaluateFunction_replacesTheMetricsButNotTheWeightedLoss() {
    FedAvg strategy = FedAvg.builder().evaluateMetricsAggregation(reports -> Map.of(
        "accuracy_min", reports.stream().mapToDouble(r -> r.metrics().get("accuracy"))
            .min().orElseThrow())).build();
    List<LearnerResult<EvaluateResult>> results = List.of(
        new LearnerResult<>("a", EvaluateResult.of(1.0, 0.9, 10)),
        new LearnerResult<>("b", EvaluateResult.of(3.0, 0.5, 30)));

    Evaluation evaluation = strategy.aggregateEvaluate(1, results, List.of()).orElseThrow();

    assertEquals(2.5, evaluation.loss(), 1e-12);
    assertEquals(40, evaluation.numExamples());
    assertEquals(Map.of("accuracy_min", 0.5), evaluation.metrics());
  }

  @Test
  void theDefaultEvaluateMetrics_equalWeightedMean() {
    List<LearnerResult<EvaluateResult>> results = List.of(
        new LearnerResult<>("a", EvaluateResult.of(1.0, 0.9, 10)),
        new LearnerResult<>("b", EvaluateResult.of(3.0, 0.5, 30)));
    Evaluation evaluation =
        FedAvg.withDefaults().aggregateEvaluate(1, results, List.of()).orElseThrow();
    assertEquals(0.6, evaluation.metrics().get("accuracy"), 1e-12);
  }

  @Test
  void aFunctionReturningNull_isNamedInTheError() {
    FedAvg strategy = FedAvg.builder().fitMetricsAggregation(reports -> null).build();
    NullPointerException e = assertThrows(NullPointerException.class, () -> fitRound(strategy));
    assertTrue(e.getMessage().contains("fitMetricsAggregation function returned null for round 1"),
        e.getMessage());
    assertThrows(NullPointerException.class,
        () -> FedAvg.builder().evaluateMetricsAggregation(null));
  }

  @Test
  void reportsRefuseNoExamples() {
    assertThrows(IllegalArgumentException.class,
        () -> new ReportedMetrics("a", 0, Map.of()));
  }
}
