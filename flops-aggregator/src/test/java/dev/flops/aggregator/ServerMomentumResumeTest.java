package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.TrainingResult;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A FedAvg variant's tensor state (FedAvgM's momentum) survives a resume bit for bit: 2 rounds,
 * a checkpoint, a fresh strategy instance resumed from it for rounds 3 and 4, against 4 rounds
 * without interruption, over real gRPC with the same learners.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ServerMomentumResumeTest {

  /** Powers of two: every weighted product is exact, so the sum does not depend on arrival order. */
  private static final int[] EXAMPLES = {16, 64};

  private static TrainingPlan.Builder plan(int rounds) {
    return TrainingPlan.builder().rounds(rounds).minAvailableLearners(2).minFitResults(2)
        .tracking(Tracking.off());
  }

  @Test
  void momentumAndGlobal_afterResume_areBitIdenticalToAnUninterruptedRun(@TempDir Path dir)
      throws Exception {
    Parameters initial = Federations.randomParameters(11, false);
    ServerMomentum uninterrupted = new ServerMomentum(1.0, 0.9);
    Parameters straight;
    try (Aggregator aggregator = started(initial)) {
      straight = aggregator.train(plan(4).build(), uninterrupted).finalParameters();
    }

    ServerMomentum firstHalf = new ServerMomentum(1.0, 0.9);
    ServerMomentum resumed = new ServerMomentum(1.0, 0.9);
    TrainingResult result;
    try (Aggregator aggregator = started(initial)) {
      aggregator.train(plan(2).checkpointDirectory(dir).build(), firstHalf);
      result = aggregator.train(plan(4).checkpointDirectory(dir).resume(true).build(), resumed);
    }

    assertEquals(4, result.rounds().size(), "the checkpoint's 2 rounds, then rounds 3 and 4");
    assertNotNull(resumed.velocity());
    for (Tensor expected : uninterrupted.velocity()) {
      assertArrayEquals(expected.toFloatArray(),
          resumed.velocity().get(expected.name()).toFloatArray(), "velocity " + expected.name());
    }
    for (Tensor expected : straight) {
      assertArrayEquals(expected.toFloatArray(),
          result.finalParameters().get(expected.name()).toFloatArray(), expected.name());
    }
  }

  /** A server with two learners; their updates are exact in float32 whatever order they come in. */
  private static Aggregator started(Parameters initial) throws Exception {
    Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .build()
        .start();
    Federations.startLearner("a", aggregator.port(), FakeTrainer.adding(initial, 0.5f, EXAMPLES[0]));
    Federations.startLearner("b", aggregator.port(), FakeTrainer.adding(initial, -0.25f, EXAMPLES[1]));
    return aggregator;
  }
}
