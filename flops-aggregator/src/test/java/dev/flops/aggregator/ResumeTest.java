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
import java.io.IOException;
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
  private static FedAvg strategy(int rounds) {
    return FedAvg.builder().rounds(rounds).fractionFit(0.5).fractionEvaluate(0.5)
        .minAvailableLearners(4).samplingSeed(99)
        .fitConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .evaluateConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .build();
  }

  private TrainingResult run(Parameters initial, FedAvg strategy, Aggregator.Builder builder)
      throws Exception {
    try (Aggregator aggregator = builder.host("127.0.0.1").port(0)
        .model(new ArrayModel(initial)).strategy(strategy).build().start()) {
      // One after the other: the learners' ids, which sampling orders them by, follow NAMES.
      for (String name : NAMES) {
        int joined = aggregator.connectedLearners().size();
        Federations.startLearner(name, aggregator.port(), new DeterministicTrainer(name, initial));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (aggregator.connectedLearners().size() == joined && System.nanoTime() < deadline) {
          Thread.sleep(5);
        }
      }
      return aggregator.train();
    }
  }

  @Test
  void stoppedAfterTwoRoundsThenResumed_equalsAnUninterruptedRun_extrasComeBack()
      throws Exception {
    Parameters initial = Federations.randomParameters(41, false);
    TrainingResult uninterrupted = run(initial, strategy(4), Aggregator.builder());

    Path checkpoints = dir.resolve("ckpt");
    List<Integer> saved = new ArrayList<>();
    TrainingResult firstHalf = run(initial, strategy(2), Aggregator.builder()
        .checkpointDirectory(checkpoints)
        .checkpointExtras(round -> {
          saved.add(round);
          return Map.of("tracker.run_id", "run-" + round);
        }));
    assertEquals(List.of(1, 2), saved);

    Map<String, String> restored = new HashMap<>();
    List<String> events = new ArrayList<>();
    TrainingResult resumed = run(initial, strategy(4), Aggregator.builder()
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
    assertEquals(parentRun, restored.get(Aggregator.TRACKING_PARENT_RUN));
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
    assertEquals(parentRun, last.extras().get(Aggregator.TRACKING_PARENT_RUN));
  }

  @Test
  void resumeWithAnotherModel_refusedAtStart_namingTheDifference() throws Exception {
    Parameters initial = Federations.randomParameters(42, false);
    Path checkpoints = dir.resolve("ckpt");
    run(initial, strategy(1), Aggregator.builder().checkpointDirectory(checkpoints));

    Aggregator other = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(Federations.randomParameters(42, true)))
        .checkpointDirectory(checkpoints).resume(true).build();
    IOException e = assertThrows(IOException.class, other::start);
    other.close();

    assertTrue(e.getMessage().contains("does not fit the model: the model has 3 tensors "
        + "[dense_W, dense_b, big] but the checkpoint 2 [dense_W, dense_b]"), e.getMessage());
  }

  @Test
  void checkpointDirectoryWithACheckpoint_withoutResume_refusedAtStart() throws Exception {
    Parameters initial = Federations.randomParameters(43, false);
    Path checkpoints = dir.resolve("ckpt");
    run(initial, strategy(1), Aggregator.builder().checkpointDirectory(checkpoints));
    byte[] before = Files.readAllBytes(checkpoints.resolve("flops-checkpoint.bin"));

    Aggregator again = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial)).checkpointDirectory(checkpoints).build();
    IllegalStateException e = assertThrows(IllegalStateException.class, again::start);
    again.close();

    assertTrue(e.getMessage().contains("already holds a checkpoint"), e.getMessage());
    assertTrue(java.util.Arrays.equals(before,
        Files.readAllBytes(checkpoints.resolve("flops-checkpoint.bin"))), "left untouched");
  }

  @Test
  void resumeOfAFinishedTraining_returnsItsResultWithoutRunningARound() throws Exception {
    Parameters initial = Federations.randomParameters(44, false);
    Path checkpoints = dir.resolve("ckpt");
    TrainingResult finished =
        run(initial, strategy(2), Aggregator.builder().checkpointDirectory(checkpoints));
    ArrayModel copy = new ArrayModel(initial);

    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0).model(copy)
        .strategy(strategy(2)).checkpointDirectory(checkpoints).resume(true).build().start()) {
      assertEquals(finished.finalParameters(), copy.getParameters(),
          "the model copy holds the checkpoint's parameters once started");
      TrainingResult again = aggregator.train(); // no learner is needed: nothing is left to run
      assertEquals(finished.rounds(), again.rounds());
      assertEquals(finished.finalParameters(), again.finalParameters());
    }
  }

  @Test
  void resumeWithoutCheckpointDirectory_rejectedByTheBuilder() {
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> Aggregator.builder()
        .model(new ArrayModel(Federations.randomParameters(45, false))).resume(true).build());
    assertTrue(e.getMessage().contains("resume(true) needs checkpointDirectory"), e.getMessage());
  }
}
