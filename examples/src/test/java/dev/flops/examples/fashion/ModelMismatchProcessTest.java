package dev.flops.examples.fashion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.TestPorts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A {@code fashion-aggregator} (model mlp) with a {@code fashion-learner --model mlp-graph}, each
 * its own JVM, as a new user met it: the learner's DL4J model refuses the aggregator's parameters,
 * which is reported as a model unlike the aggregator's, not as an error to retry; training stops
 * after one attempt with advice that names the fix.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ModelMismatchProcessTest {

  @Test
  void mlpAggregator_mlpGraphLearner_notRetried_adviceNamesTheSameModel(@TempDir Path dir)
      throws Exception {
    int port = TestPorts.unusedPort();
    Process aggregator = SignalStopProcessesTest.java(dir, "aggregator",
        FashionAggregatorMain.class, "--host", "127.0.0.1", "--port", String.valueOf(port),
        "--rounds", "2", "--min-learners", "1", "--no-tracking", "--no-central-evaluation");
    Process learner = SignalStopProcessesTest.java(dir, "learner", FashionLearnerMain.class,
        "--aggregator", "127.0.0.1:" + port, "--model", "mlp-graph", "--index", "0",
        "--learners", "1", "--train-limit", "200", "--test-limit", "100");
    try {
      assertTrue(aggregator.waitFor(3, TimeUnit.MINUTES), "the aggregator ends");
      assertTrue(learner.waitFor(1, TimeUnit.MINUTES), "the learner ends");
      String log = Files.readString(dir.resolve("aggregator.log"));
      String learnerLog = Files.readString(dir.resolve("learner.log"));

      assertEquals(1, aggregator.exitValue(), log);
      assertEquals(3, learner.exitValue(), learnerLog);
      assertFalse(log.contains("retried (attempt 2"), log);
      assertTrue(log.contains("error: federated training failed: "), log);
      log = log.substring(log.indexOf("error: federated training failed: ")); // the final error
      assertTrue(log.contains("gathered 0 of the 1 results it needs (attempt 1); training stops "
          + "because every failure was a rejected result"), log);
      assertTrue(log.contains("parameters do not fit this DL4J network"), log);
      assertTrue(log.contains("the learner's model does not have the aggregator's architecture: "
          + "give both the same model (the same --model"), log);
      assertFalse(log.contains("start more learners"), log);
      assertFalse(log.contains("LearnerFailure["), log);
    } finally {
      aggregator.destroyForcibly();
      learner.destroyForcibly();
    }
  }
}
