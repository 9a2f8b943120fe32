package dev.flops.aggregator.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.flops.aggregator.TrainingPlan;
import dev.flops.aggregator.internal.FakeLearnerPool.Reply;
import dev.flops.aggregator.internal.FakeLearnerPool.Sent;
import dev.flops.aggregator.internal.LearnerPool.PhaseKind;
import dev.flops.aggregator.internal.tracking.SystemMetrics;
import dev.flops.aggregator.internal.tracking.Tracker;
import dev.flops.aggregator.kernel.JavaAveraging;
import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.FederatedModel;
import dev.flops.api.FitResult;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a plan that announces rounds adds to the tasks it sends, against a {@link FakeLearnerPool}
 * on a {@link FakeClock}; with tracking, against a real file store (the run ids come from it).
 */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class RoundAnnouncementTest {
  private final FakeClock clock = new FakeClock();
  private final FakeLearnerPool pool = new FakeLearnerPool(clock);
  private Parameters parameters = Parameters.of(Tensor.ofFloats("w", 0f, 0f));
  private final FederatedModel model = new FederatedModel() {
    @Override
    public Parameters getParameters() {
      return parameters;
    }

    @Override
    public void setParameters(Parameters next) {
      parameters = next;
    }
  };

  private static FakeLearnerPool.Script answering() {
    return (round, kind, global, config) -> kind == PhaseKind.FIT
        ? Reply.fit(Duration.ofSeconds(1), FitResult.of(global, 10))
        : Reply.evaluation(Duration.ofSeconds(1), EvaluateResult.of(1.0, 0.5, 10));
  }

  /** FedAvg whose every task carries an entry of its own, which the announcement must keep. */
  private static FedAvg strategy() {
    return FedAvg.builder()
        .fitConfig(round -> Config.of("epochs", 2))
        .evaluateConfig(round -> Config.of("batch", 100))
        .build();
  }

  private TrainingResult run(TrainingPlan plan, Tracker tracker) throws Exception {
    return new RoundLoop(pool, plan, strategy(), model, new JavaAveraging(), clock)
        .tracking(tracker, new SystemMetrics(false), "m")
        .run();
  }

  @Test
  void announcedRounds_everyTaskCarriesItsRound_besideTheStrategysEntries() throws Exception {
    pool.learner("a", answering()).learner("b", answering());

    run(TrainingPlan.builder().rounds(2).tracking(Tracking.off()).announceRounds(true).build(),
        Tracker.open(Tracking.off(), "x"));

    assertEquals(8, pool.sent.size());
    for (Sent sent : pool.sent) {
      Map<String, Object> values = sent.config().values();
      assertEquals((long) sent.round(), values.get(TrainingPlan.ROUND_KEY), sent.toString());
      assertEquals(sent.kind() == PhaseKind.FIT ? 2L : 100L,
          values.get(sent.kind() == PhaseKind.FIT ? "epochs" : "batch"));
      // Without tracking there is no run to nest under.
      assertFalse(values.containsKey(TrainingPlan.PARENT_RUN_ID_KEY), sent.toString());
    }
  }

  @Test
  void unannouncedRounds_tasksCarryTheStrategysEntriesOnly() throws Exception {
    pool.learner("a", answering());

    run(TrainingPlan.builder().rounds(2).tracking(Tracking.off()).build(),
        Tracker.open(Tracking.off(), "x"));

    for (Sent sent : pool.sent) {
      assertEquals(1, sent.config().values().size(), sent.toString());
    }
  }

  @Test
  void trackedAnnouncedRounds_carryTheRoundsOwnRunInTheStore(@TempDir Path mlruns)
      throws Exception {
    pool.learner("a", answering());
    Tracking tracking = Tracking.fileStore(mlruns).outbox(mlruns.resolve("outbox"));
    Tracker tracker = Tracker.open(tracking, "x");

    TrainingResult result = run(TrainingPlan.builder().rounds(2).tracking(tracking)
        .announceRounds(true).build(), tracker);

    String experiment = result.trackingInfo().orElseThrow().experimentId();
    Map<Integer, String> roundRuns = tracker.roundRunIds();
    for (Sent sent : pool.sent) {
      Map<String, Object> values = sent.config().values();
      assertEquals(experiment, values.get(TrainingPlan.EXPERIMENT_ID_KEY));
      assertNotNull(roundRuns.get(sent.round()));
      assertEquals(roundRuns.get(sent.round()), values.get(TrainingPlan.PARENT_RUN_ID_KEY));
      assertEquals(tracking.trackingUri(), values.get(TrainingPlan.TRACKING_URI_KEY));
    }
    tracker.close();
  }
}
