package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Parameters;
import dev.flops.api.strategy.FedAvg;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The error a failed training ends with, as a person reads it: each failure once, as a
 * {@code learner-N (name): reason} line, a capped list, and resume advice only where there are
 * checkpoints to resume from.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FailureMessageTest {
  private static final String CAUSE = "the GPU fell off the bus";

  @TempDir
  Path dir;

  /** A trainer whose fits succeed {@code good} times, then throw. */
  private static FakeTrainer failingAfter(Parameters initial, int good) {
    AtomicInteger fits = new AtomicInteger();
    return new FakeTrainer(initial, 10, p -> {
      if (fits.incrementAndGet() > good) {
        throw new IllegalStateException(CAUSE);
      }
      return FakeTrainer.add(p, 1f);
    }, 1.0, 0.5);
  }

  private static TrainingPlan.Builder failFast(int learners) {
    return TrainingPlan.builder().rounds(3).minAvailableLearners(learners)
        .onInsufficientResults(InsufficientResults.FAIL);
  }

  @Test
  void sevenLearnersFail_oneLinePerLearnerWithItsName_capped_noRecordsNoResumeAdvice()
      throws Exception {
    Parameters initial = Federations.randomParameters(71, false);
    TrainingPlan plan = failFast(7).build();
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial)).build().start()) {
      for (int i = 0; i < 7; i++) {
        Federations.startLearner("site-" + i, aggregator.port(), failingAfter(initial, 0));
      }

      String message = assertThrows(TrainingException.class,
          () -> aggregator.train(plan, FedAvg.withDefaults())).getMessage();

      assertTrue(message.startsWith("federated training failed: round 1: the fit phase gathered "
          + "0 of the 1 results it needs (attempt 1); training stops because "
          + "onInsufficientResults is FAIL.\n  learner-"), message);
      assertEquals(5, message.split("\n  learner-\\d+ \\(site-\\d\\): learner reported: "
          + "java.lang.IllegalStateException: " + CAUSE, -1).length - 1,
          message);
      assertTrue(message.contains("\n  and 2 more\nFix what fails on the learners (see their "
          + "logs): 7 reported an error."), message);
      assertFalse(message.contains("LearnerFailure["), message);
      assertFalse(message.contains("kind="), message);
      assertFalse(message.contains("checkpoint"), message);
      assertFalse(message.contains("resume"), message);
      assertTrue(message.length() < 1000, message.length() + " characters: " + message);
    }
  }

  @Test
  void checkpointsButNoneWrittenYet_saysAResumeStartsFromRound1() throws Exception {
    Parameters initial = Federations.randomParameters(72, false);
    TrainingPlan plan = failFast(1).checkpointDirectory(dir).build();
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial)).build().start()) {
      Federations.startLearner("site-a", aggregator.port(), failingAfter(initial, 0));

      String message = assertThrows(TrainingException.class,
          () -> aggregator.train(plan, FedAvg.withDefaults())).getMessage();

      assertTrue(message.endsWith(". No round was checkpointed yet, so a resume starts again "
          + "from round 1."), message);
      assertFalse(message.contains("after round 0"), message);
    }
  }

  @Test
  void checkpointedRound_namedWithTheCheckpointFile() throws Exception {
    Parameters initial = Federations.randomParameters(73, false);
    TrainingPlan plan = failFast(1).checkpointDirectory(dir).build();
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial)).build().start()) {
      Federations.startLearner("site-a", aggregator.port(), failingAfter(initial, 1));

      String message = assertThrows(TrainingException.class,
          () -> aggregator.train(plan, FedAvg.withDefaults())).getMessage();

      assertTrue(message.contains("round 2: the fit phase gathered 0 of the 1"), message);
      assertTrue(message.contains("\n  learner-1 (site-a): learner reported: "
          + "java.lang.IllegalStateException: " + CAUSE + "\n"), message);
      assertTrue(message.contains(" A resume (--resume, or Aggregator.Builder.resume(true)) "
          + "continues after round 1 from " + dir), message);
    }
  }
}
