package dev.flops.aggregator;

import static dev.flops.aggregator.AggregatorTest.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.internal.Checkpoint;
import dev.flops.api.Config;
import dev.flops.api.FederationObserver;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.TrainingStarted;
import dev.flops.api.strategy.FedAvg;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoints and resume in one JVM: a federation stopped after some rounds and resumed ends where
 * an uninterrupted one does, with the same sampling; the extras come back; unusable checkpoints
 * are refused before any learner connects.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class ResumeTest {
  private static final List<String> NAMES = List.of("a", "b", "c", "d");

  @TempDir
  Path dir;

  /** FedAvg sampling 2 of 4 learners a round, so that the sampling state matters on resume. */
  private static FedAvg strategy() {
    return FedAvg.builder().fractionFit(0.5).fractionEvaluate(0.5).samplingSeed(99)
        .fitConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .evaluateConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .build();
  }

  /** A plan of {@code rounds} rounds over the 4 learners. */
  private static TrainingPlan.Builder plan(int rounds) {
    return TrainingPlan.builder().rounds(rounds).minAvailableLearners(4);
  }

  private TrainingResult run(Parameters initial, TrainingPlan.Builder plan) throws Exception {
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial)).build().start()) {
      // One after the other: the learners' ids, which sampling orders them by, follow NAMES.
      for (String name : NAMES) {
        int joined = aggregator.connectedLearners().size();
        Federations.startLearner(name, aggregator.port(), new DeterministicTrainer(name, initial));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (aggregator.connectedLearners().size() == joined && System.nanoTime() < deadline) {
          Thread.sleep(5);
        }
      }
      return aggregator.train(plan.build(), strategy());
    }
  }

  @Test
  void stoppedAfterTwoRoundsThenResumed_equalsAnUninterruptedRun_extrasComeBack()
      throws Exception {
    Parameters initial = Federations.randomParameters(41, false);
    TrainingResult uninterrupted = run(initial, plan(4));

    Path checkpoints = dir.resolve("ckpt");
    List<Integer> saved = new ArrayList<>();
    TrainingResult firstHalf = run(initial, plan(2)
        .checkpointDirectory(checkpoints)
        .checkpointExtras(round -> {
          saved.add(round);
          return Map.of("tracker.run_id", "run-" + round);
        }));
    assertEquals(List.of(1, 2), saved);

    Map<String, String> restored = new HashMap<>();
    List<String> events = new ArrayList<>();
    TrainingResult resumed = run(initial, plan(4)
        .checkpointDirectory(checkpoints)
        .resume(true)
        .checkpointExtras(new CheckpointExtras() {
          @Override
          public Map<String, String> save(int round) {
            return Map.of("tracker.run_id", restored.get("tracker.run_id"));
          }

          @Override
          public void restore(Map<String, String> extras, int lastCompletedRound) {
            restored.putAll(extras);
            events.add("restore after round " + lastCompletedRound);
          }
        })
        .observer(new FederationObserver() {
          @Override
          public void onTrainingStarted(TrainingStarted event) {
            events.add("started");
          }

          @Override
          public void onRoundFinished(RoundSummary summary) {
            events.add("round " + summary.round());
          }
        }));

    assertEquals("run-2", restored.get("tracker.run_id"));
    // The aggregator keeps its own MLflow ids there too, and continues the same parent run.
    String parentRun = firstHalf.trackingInfo().orElseThrow().parentRunId();
    assertEquals(parentRun, restored.get(TrainingRun.TRACKING_PARENT_RUN));
    assertEquals(parentRun, resumed.trackingInfo().orElseThrow().parentRunId());
    assertEquals(List.of("restore after round 2", "started", "round 3", "round 4"), events);
    assertEquals(4, resumed.rounds().size());
    assertEquals(firstHalf.rounds(), resumed.rounds().subList(0, 2));
    for (int r = 0; r < 4; r++) {
      RoundSummary expected = uninterrupted.rounds().get(r);
      RoundSummary actual = resumed.rounds().get(r);
      assertEquals(expected.fitSucceeded(), actual.fitSucceeded());
      assertEquals(expected.loss(), actual.loss(), 1e-6, "round " + (r + 1));
    }
    assertClose(uninterrupted.finalParameters(), resumed.finalParameters(), 1e-6);
    assertEquals(uninterrupted.bestRound().round(), resumed.bestRound().round());
    Checkpoint last = ProcessFaultsTest.read(checkpoints);
    assertEquals(4, last.round());
    assertEquals("run-2", last.extras().get("tracker.run_id"));
    assertEquals(parentRun, last.extras().get(TrainingRun.TRACKING_PARENT_RUN));
  }

  @Test
  void resumeWithAnotherModel_refusedAtTrain_namingTheDifference() throws Exception {
    Parameters initial = Federations.randomParameters(42, false);
    Path checkpoints = dir.resolve("ckpt");
    run(initial, plan(1).checkpointDirectory(checkpoints));

    TrainingException e;
    try (Aggregator other = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(Federations.randomParameters(42, true))).build().start()) {
      // Refused before any round, so before any learner is needed.
      e = assertThrows(TrainingException.class, () -> other.train(
          plan(1).checkpointDirectory(checkpoints).resume(true).build(), strategy()));
    }

    assertTrue(e.getMessage().contains("does not fit the model: the model has 3 tensors "
        + "[dense_W, dense_b, big] but the checkpoint 2 [dense_W, dense_b]"), e.getMessage());
  }

  @Test
  void checkpointDirectoryWithACheckpoint_withoutResume_refusedAtTrain() throws Exception {
    Parameters initial = Federations.randomParameters(43, false);
    Path checkpoints = dir.resolve("ckpt");
    run(initial, plan(1).checkpointDirectory(checkpoints));
    byte[] before = Files.readAllBytes(checkpoints.resolve("flops-checkpoint.bin"));

    IllegalStateException e;
    try (Aggregator again = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial)).build().start()) {
      e = assertThrows(IllegalStateException.class, () -> again.train(
          plan(1).checkpointDirectory(checkpoints).build(), strategy()));
    }

    assertTrue(e.getMessage().contains("already holds a checkpoint"), e.getMessage());
    assertTrue(java.util.Arrays.equals(before,
        Files.readAllBytes(checkpoints.resolve("flops-checkpoint.bin"))), "left untouched");
  }

  @Test
  void resumeOfAFinishedTraining_returnsItsResultWithoutRunningARound() throws Exception {
    Parameters initial = Federations.randomParameters(44, false);
    Path checkpoints = dir.resolve("ckpt");
    TrainingResult finished =
        run(initial, plan(2).checkpointDirectory(checkpoints));
    ArrayModel copy = new ArrayModel(initial);

    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0).model(copy)
        .build().start()) {
      // No learner is needed: nothing is left to run.
      TrainingResult again = aggregator.train(
          plan(2).checkpointDirectory(checkpoints).resume(true).build(), strategy());
      assertEquals(finished.finalParameters(), copy.getParameters(),
          "the model copy holds the checkpoint's parameters");
      assertEquals(finished.rounds(), again.rounds());
      assertEquals(finished.finalParameters(), again.finalParameters());
    }
  }

  @Test
  void resumeWithoutCheckpointDirectory_rejectedByTheBuilder() {
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> TrainingPlan.builder().resume(true).build());
    assertTrue(e.getMessage().contains("resume(true) needs checkpointDirectory"), e.getMessage());
  }
}
