package dev.flops.examples.fashion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.Aggregator;
import dev.flops.aggregator.TestPorts;
import dev.flops.aggregator.TrainingPlan;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.dl4j.Dl4jModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Learners as separate JVM processes ({@link FashionLearnerMain}), the way they run across
 * machines: they start before the aggregator, wait for it, train, and exit with status 0 when the
 * aggregator tells them to shut down.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class SeparateProcessesTest {

  @Test
  void learnerProcesses_startedFirst_joinTrainAndExitCleanly(@TempDir Path logs) throws Exception {
    int port = TestPorts.unusedPort();
    List<Process> learners = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      learners.add(new ProcessBuilder(
          Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-cp", System.getProperty("java.class.path"),
          FashionLearnerMain.class.getName(),
          "--aggregator", "127.0.0.1:" + port,
          "--index", String.valueOf(i), "--learners", "2",
          "--train-limit", "2000", "--test-limit", "400")
          .redirectErrorStream(true)
          .redirectOutput(logs.resolve("learner-" + i + ".log").toFile())
          .start());
    }

    Dl4jModel copy = Dl4jModel.of(Mlp.create(42));
    TrainingResult result;
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(port)
        .model(copy)
        .build()
        .start()) {
      result = aggregator.train(
          TrainingPlan.builder().rounds(2).minAvailableLearners(2).build(),
          FedAvg.withDefaults());
    }

    for (int i = 0; i < learners.size(); i++) {
      Process learner = learners.get(i);
      assertTrue(learner.waitFor(60, TimeUnit.SECONDS), "learner " + i + " exits");
      String log = Files.readString(logs.resolve("learner-" + i + ".log"));
      assertEquals(0, learner.exitValue(), log);
      assertTrue(log.contains("the aggregator's training finished (2 rounds completed)"), log);
    }
    for (RoundSummary round : result.rounds()) {
      assertEquals(2, round.fitSucceeded(), "round " + round.round());
      assertEquals(2, round.evaluateSucceeded(), "round " + round.round());
    }
    assertEquals(result.finalParameters(), copy.getParameters());
  }
}
