package dev.flops.aggregator.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.flops.api.LearnerFailure;
import dev.flops.proto.v1.TaskKind;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The progress line names each state a phase's tasks can be in. */
class PhaseProgressTest {

  private static List<PendingTask> tasks(TaskKind kind, int count) {
    List<PendingTask> tasks = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      tasks.add(new PendingTask("r2-t" + i, "learner-" + i, 2, kind, null, null));
    }
    return tasks;
  }

  @Test
  void fitPhase_countsResultsFailuresUploadsDownloadsAndLearnersTraining() {
    List<PendingTask> tasks = tasks(TaskKind.FIT, 6);
    tasks.get(0).succeed(null);
    tasks.get(1).fail(LearnerFailure.Kind.TIMED_OUT, "timed out");
    tasks.get(2).claimUpload();
    tasks.get(3).claimUpload();
    assertEquals("round 2 fit: 1 of 6 updates in, 1 failed, 2 uploads under way, 1 download "
            + "streaming, 1 learner still training; 40 s",
        TaskPhase.describe(tasks, 1, Duration.ofSeconds(40)));
  }

  @Test
  void evaluatePhase_saysResultsAndLearnersStillEvaluating() {
    List<PendingTask> tasks = tasks(TaskKind.EVALUATE, 3);
    tasks.get(0).succeed(null);
    assertEquals("round 2 evaluate: 1 of 3 results in, 2 learners still evaluating; 12 s",
        TaskPhase.describe(tasks, 0, Duration.ofMillis(12_500)));
  }

  @Test
  void downloadsBeyondTheOpenTasks_belongToNoOneHere() {
    List<PendingTask> tasks = tasks(TaskKind.FIT, 2);
    tasks.get(0).succeed(null);
    assertEquals("round 2 fit: 1 of 2 updates in, 1 download streaming; 3 s",
        TaskPhase.describe(tasks, 4, Duration.ofSeconds(3)));
  }
}
