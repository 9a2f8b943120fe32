package dev.flops.aggregator.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.InsufficientResults;
import dev.flops.aggregator.TrainingPlan;
import dev.flops.aggregator.kernel.JavaAveraging;
import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.EvaluateResult;
import dev.flops.api.FederatedModel;
import dev.flops.api.FederationObserver;
import dev.flops.api.FitResult;
import dev.flops.api.LearnerFailure;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.Tensor;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.api.strategy.Strategy;
import dev.flops.aggregator.internal.FakeLearnerPool.Reply;
import dev.flops.aggregator.internal.LearnerPool.PhaseKind;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The round loop alone, against a {@link FakeLearnerPool} on a {@link FakeClock}: no Netty, no
 * sleeping. Round timeouts of minutes pass in virtual time, so every test ends within a second.
 */
@Timeout(value = 1, unit = TimeUnit.SECONDS)
class RoundLoopTest {

  private static final Duration TIMEOUT = Duration.ofMinutes(1);
  private final FakeClock clock = new FakeClock();
  private final FakeLearnerPool pool = new FakeLearnerPool(clock);
  private final Model model = new Model(Parameters.of(Tensor.ofFloats("w", 0f, 0f)));

  /** The aggregator's model copy: holds what the loop sets. */
  private static final class Model implements FederatedModel {
    Parameters parameters;
    int sets;

    Model(Parameters initial) {
      this.parameters = initial;
    }

    @Override
    public Parameters getParameters() {
      return parameters;
    }

    @Override
    public void setParameters(Parameters parameters) {
      this.parameters = parameters;
      sets++;
    }
  }

  /** A learner that trains for {@code took} and returns the global plus {@code offset}. */
  private static FakeLearnerPool.Script adding(float offset, long examples, Duration took) {
    return (round, kind, global, config) -> {
      if (kind == PhaseKind.FIT) {
        float[] w = global.get("w").toFloatArray();
        for (int i = 0; i < w.length; i++) {
          w[i] += offset;
        }
        return Reply.fit(took, new FitResult(Parameters.of(Tensor.ofFloats("w", w)), examples,
            Map.of("train_loss", (double) offset)));
      }
      return Reply.evaluation(took, new EvaluateResult(offset, examples,
          Map.of("accuracy", 0.5)));
    };
  }

  private TrainingResult run(TrainingPlan.Builder plan, Strategy strategy) throws Exception {
    return new RoundLoop(pool, plan.tracking(Tracking.off()).build(), strategy, model,
        new JavaAveraging(), clock).run();
  }

  private static TrainingPlan.Builder plan(int rounds) {
    return TrainingPlan.builder().rounds(rounds).roundTimeout(TIMEOUT)
        .learnerWait(Duration.ofMinutes(5));
  }

  @Test
  void everyLearnerAnswers_eachRoundIsTheExampleWeightedMean_withFitTotalsInTheSummary()
      throws Exception {
    pool.learner("a", adding(1f, 10, Duration.ofSeconds(3)))
        .learner("b", adding(4f, 30, Duration.ofSeconds(5)));

    TrainingResult result = run(plan(2), FedAvg.withDefaults());

    // Each round adds (1*10 + 4*30)/40 = 3.25 to every weight.
    assertArrayEquals(new float[] {6.5f, 6.5f}, result.finalParameters().get("w").toFloatArray());
    assertEquals(2, model.sets, "the model copy receives every new global model");
    RoundSummary last = result.finalRound();
    assertEquals(2, last.fitSucceeded());
    assertEquals(40, last.fitExamples());
    assertEquals(3.25, last.fitMetrics().get("train_loss"), 1e-12);
    assertEquals(Duration.ofSeconds(10), last.duration(), "5 s fit + 5 s evaluate, virtual");
    assertEquals(2 * 2 * 2, pool.sent.size(), "a fit and an evaluate task per learner per round");
  }

  @Test
  void straggler_timesOut_roundGoesOnWithTheOthers_andItsLateUpdateNeverCounts()
      throws Exception {
    pool.learner("a", adding(2f, 10, Duration.ofSeconds(1)))
        .learner("b", adding(2f, 10, Duration.ofSeconds(1)))
        .learner("slow", adding(100f, 1000, TIMEOUT.plusMinutes(1)));

    TrainingResult result = run(plan(1), FedAvg.withDefaults());

    RoundSummary round = result.finalRound();
    assertEquals(2, round.fitSucceeded());
    assertEquals(1, round.fitFailed());
    LearnerFailure failure = round.failures().get(0);
    assertEquals("slow", failure.learnerId());
    assertEquals(LearnerFailure.Kind.TIMED_OUT, failure.kind());
    assertTrue(failure.reason().contains("timed out after"), failure.reason());
    assertArrayEquals(new float[] {2f, 2f}, result.finalParameters().get("w").toFloatArray(),
        "the straggler's update (weight 1000) never reached the aggregate");
    assertEquals(2, pool.updatesFolded, "only the two punctual updates were folded");
    assertTrue(pool.lateUpdatesDropped >= 1, "the late update arrived and was dropped");
  }

  @Test
  void tooFewResults_underRetry_theFitPhaseRunsAgain_andTheShortAttemptNeverCounts()
      throws Exception {
    int[] fits = {0};
    pool.learner("a", adding(1f, 10, Duration.ofSeconds(1)))
        .learner("flaky", (round, kind, global, config) -> {
          if (kind == PhaseKind.FIT && fits[0]++ == 0) {
            return Reply.failure(Duration.ofSeconds(2), LearnerFailure.Kind.LEARNER_ERROR,
                "out of memory on the learner");
          }
          return adding(3f, 10, Duration.ofSeconds(1)).reply(round, kind, global, config);
        });

    TrainingResult result = run(plan(1).minAvailableLearners(2).minFitResults(2),
        FedAvg.withDefaults());

    RoundSummary round = result.finalRound();
    assertEquals(2, round.fitSucceeded());
    assertEquals(1, round.fitFailed(), "the first attempt's failure is reported");
    assertTrue(round.failures().get(0).reason().startsWith("out of memory"),
        round.failures().toString());
    assertArrayEquals(new float[] {2f, 2f}, result.finalParameters().get("w").toFloatArray(),
        "only the second attempt's updates count: (1 + 3) / 2");
    assertEquals(4, pool.sent.stream().filter(s -> s.kind() == PhaseKind.FIT).count());
  }

  @Test
  void tooFewResults_underFail_stopsTrainingNamingTheShortfallAndTheKnob() {
    pool.learner("a", adding(1f, 10, Duration.ofSeconds(1)))
        .learner("b", (round, kind, global, config) -> Reply.silence());

    IllegalStateException e = assertThrows(IllegalStateException.class, () -> run(plan(3)
        .minAvailableLearners(2).minFitResults(2)
        .onInsufficientResults(InsufficientResults.FAIL), FedAvg.withDefaults()));

    assertTrue(e.getMessage().contains("gathered 1 of the 2 results"), e.getMessage());
    assertTrue(e.getMessage().contains("onInsufficientResults is FAIL"), e.getMessage());
    assertTrue(e.getMessage().contains("Raise roundTimeout (now 1 min)"), e.getMessage());
    assertEquals(TIMEOUT, clock.elapsed(), "one timed-out attempt, then the end");
  }

  @Test
  void retriesExhausted_failAfterMaxRoundAttempts() {
    pool.learner("a", adding(1f, 10, Duration.ofSeconds(1)))
        .learner("b", (round, kind, global, config) -> kind == PhaseKind.FIT
            ? Reply.failure(Duration.ofSeconds(1), LearnerFailure.Kind.LEARNER_ERROR, "broken")
            : Reply.silence());

    IllegalStateException e = assertThrows(IllegalStateException.class, () -> run(plan(1)
        .minAvailableLearners(2).minFitResults(2).maxRoundAttempts(4), FedAvg.withDefaults()));

    assertTrue(e.getMessage().contains("all 4 attempts fell short"), e.getMessage());
    assertEquals(8, pool.sent.size(), "4 attempts of 2 fit tasks");
  }

  @Test
  void learnersJoiningLate_theWaitIsLearnerWait_notTheRoundsDuration() throws Exception {
    pool.learner("a", adding(1f, 10, Duration.ofSeconds(2)))
        .learnerJoiningAfter(Duration.ofSeconds(30), "b", adding(1f, 10, Duration.ofSeconds(2)));

    RoundSummary round = run(plan(1).minAvailableLearners(2), FedAvg.withDefaults())
        .finalRound();

    assertEquals(Duration.ofSeconds(30), round.learnerWait());
    assertEquals(Duration.ofSeconds(4), round.duration());
  }

  @Test
  void tooFewLearnersWithinTheLearnerWait_failsNamingHowManyCame() {
    pool.learner("a", adding(1f, 10, Duration.ofSeconds(2)));

    TimeoutException e = assertThrows(TimeoutException.class,
        () -> run(plan(1).minAvailableLearners(3), FedAvg.withDefaults()));

    assertTrue(e.getMessage().contains("only 1 of the 3"), e.getMessage());
    assertEquals(Duration.ofMinutes(5), clock.elapsed());
  }

  @Test
  void centralEvaluation_reachesTheSummaryAndTheObservers() throws Exception {
    pool.learner("a", adding(1f, 10, Duration.ofSeconds(1)));
    List<RoundSummary> observed = new ArrayList<>();
    FedAvg fedAvg = FedAvg.builder().centralEvaluation((round, global) ->
        new EvaluateResult(0.25, 10_000, Map.of("accuracy", 0.8 + round / 100.0))).build();

    TrainingResult result = run(plan(2).observer(new FederationObserver() {
      @Override
      public void onRoundFinished(RoundSummary summary) {
        observed.add(summary);
      }
    }), fedAvg);

    assertEquals(0.82, result.finalRound().central().orElseThrow().accuracy(), 1e-12);
    assertEquals(2, observed.size());
    assertEquals(0.81, observed.get(0).central().orElseThrow().accuracy(), 1e-12);
  }

  @Test
  void theRoundLine_saysTheFitExamplesAndTheCentralEvaluation() throws Exception {
    pool.learner("a", adding(1f, 10, Duration.ofSeconds(1)))
        .learner("b", adding(1f, 30, Duration.ofSeconds(1)));
    FedAvg fedAvg = FedAvg.builder().centralEvaluation((round, global) ->
        new EvaluateResult(0.25, 10_000, Map.of("accuracy", 0.8125))).build();

    RoundSummary round = run(plan(1), fedAvg).finalRound();

    assertEquals("round 1/1 | fit 2 ok, 0 failed (40 examples) | evaluate 2 ok, 0 failed | "
        + "loss 1.0000 | accuracy 0.5000 | central accuracy 0.8125 | 2.00 s",
        RoundLoop.describe(round, 1));
  }

  @Test
  void aStrategyReturningAnotherStructure_failsNamingTheMismatch_andTheModelKeepsItsParameters() {
    pool.learner("a", adding(1f, 10, Duration.ofSeconds(1)));
    FedAvg wrongShape = new FedAvg(FedAvg.builder()) {
      @Override
      protected Parameters serverUpdate(int round, Parameters global, Parameters average,
          dev.flops.api.strategy.AveragingKernel kernel) {
        return Parameters.of(Tensor.ofFloats("w", 1f, 2f, 3f));
      }
    };

    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> run(plan(1), wrongShape));

    assertTrue(e.getMessage().contains("structure differs"), e.getMessage());
    assertEquals(0, model.sets);
  }
}
