package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.FederatedModel;
import dev.flops.api.FitResult;
import dev.flops.api.LocalTrainer;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.FedAvg;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Deterministic failures found on the learner, over real gRPC, are of the same kind as the
 * aggregator's own refusals of wrong shapes and NaNs: the global parameters do not fit the
 * learner's model (its setParameters refuses them), or the trainer's result breaks flops' checks
 * of reported numbers. Under the default RETRY they are not retried against the same learners,
 * and the advice fits the cause.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class LearnerSideRefusalTest {
  private static final Parameters GLOBAL = Federations.randomParameters(81, false);

  /** A trainer whose fit and evaluate report what the given functions build. */
  private record ScriptedTrainer(FederatedModel model, AtomicInteger calls,
      java.util.function.Function<Parameters, FitResult> fit,
      java.util.function.Supplier<EvaluateResult> evaluate) implements LocalTrainer {
    @Override
    public FitResult fit(Config config) {
      calls.incrementAndGet();
      return fit.apply(model.getParameters());
    }

    @Override
    public EvaluateResult evaluate(Config config) {
      calls.incrementAndGet();
      return evaluate.get();
    }
  }

  private static ScriptedTrainer trainer(FederatedModel model,
      java.util.function.Function<Parameters, FitResult> fit,
      java.util.function.Supplier<EvaluateResult> evaluate) {
    return new ScriptedTrainer(model, new AtomicInteger(), fit, evaluate);
  }

  private static FitResult goodFit(Parameters p) {
    return new FitResult(p, 10, Map.of());
  }

  private static EvaluateResult goodEvaluation() {
    return EvaluateResult.of(1.0, 0.5, 10);
  }

  /** Two learners under the default RETRY with 3 attempts; returns the final error. */
  private static String train(ScriptedTrainer first, ScriptedTrainer second, LogCapture log)
      throws Exception {
    TrainingPlan plan = TrainingPlan.builder().rounds(1).minAvailableLearners(2).minFitResults(2)
        .minEvaluateResults(2).build();
    FedAvg strategy = FedAvg.builder().minFitLearners(2).minEvaluateLearners(2).build();
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(GLOBAL))
        .build().start()) {
      Federations.startLearner("a", aggregator.port(), first);
      Federations.startLearner("b", aggregator.port(), second);
      String message = assertThrows(TrainingException.class,
          () -> aggregator.train(plan, strategy)).getMessage();
      assertFalse(log.text().contains("retried (attempt 2"), log.text());
      assertTrue(message.contains("(attempt 1); training stops because every failure was a "
          + "rejected result and no other learner is connected"), message);
      assertTrue(message.contains("Fix the learners' model or data: every failed result was "
          + "refused as invalid"), message);
      assertFalse(message.contains("start more learners"), message);
      assertFalse(message.contains("roundTimeout"), message);
      assertFalse(message.contains("minFitLearners"), message);
      return message;
    }
  }

  @Test
  void learnersModelOfAnotherArchitecture_notRetried_adviceNamesTheSameModel() throws Exception {
    Parameters other = Parameters.of(GLOBAL.get("dense_W"),
        Tensor.ofFloats("dense_b", new long[] {19}, new float[19]));
    ScriptedTrainer first = trainer(new ArrayModel(other), LearnerSideRefusalTest::goodFit,
        LearnerSideRefusalTest::goodEvaluation);
    ScriptedTrainer second = trainer(new ArrayModel(other), LearnerSideRefusalTest::goodFit,
        LearnerSideRefusalTest::goodEvaluation);
    try (LogCapture log = new LogCapture()) {
      String message = train(first, second, log);

      assertTrue(message.contains("round 1: the fit phase gathered 0 of the 2"), message);
      assertTrue(message.contains("its setParameters refused the aggregator's parameters"),
          message);
      assertTrue(message.contains("the learner's model does not have the aggregator's "
          + "architecture: give both the same model (the same --model"), message);
      assertEquals(0, first.calls().get() + second.calls().get(), "no fit ever ran");
    }
  }

  @Test
  void nanMetricInTheFitResult_notRetried_namesTheMetric() throws Exception {
    ScriptedTrainer first = trainer(new ArrayModel(GLOBAL),
        p -> new FitResult(p, 10, Map.of("train_mse", Double.NaN)),
        LearnerSideRefusalTest::goodEvaluation);
    ScriptedTrainer second = trainer(new ArrayModel(GLOBAL),
        p -> new FitResult(p, 10, Map.of("train_mse", Double.NaN)),
        LearnerSideRefusalTest::goodEvaluation);
    try (LogCapture log = new LogCapture()) {
      String message = train(first, second, log);

      assertTrue(message.contains("round 1: the fit phase gathered 0 of the 2"), message);
      assertTrue(message.contains("the learner's result was refused: metric 'train_mse' is NaN"),
          message);
      assertEquals(2, first.calls().get() + second.calls().get(), "one fit each, not three");
    }
  }

  @Test
  void nanLossInTheEvaluation_notRetried() throws Exception {
    ScriptedTrainer first = trainer(new ArrayModel(GLOBAL), LearnerSideRefusalTest::goodFit,
        () -> EvaluateResult.of(Double.NaN, 0.5, 10));
    ScriptedTrainer second = trainer(new ArrayModel(GLOBAL), LearnerSideRefusalTest::goodFit,
        () -> EvaluateResult.of(Double.NaN, 0.5, 10));
    try (LogCapture log = new LogCapture()) {
      String message = train(first, second, log);

      assertTrue(message.contains("round 1: the evaluate phase gathered 0 of the 2"), message);
      assertTrue(message.contains("the learner's result was refused: loss is NaN"), message);
      assertEquals(List.of(2, 2), List.of(first.calls().get(), second.calls().get()),
          "one fit and one evaluation each");
    }
  }
}
