package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.LocalTrainer;
import dev.flops.learner.LearnerMain;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * An aggregator process ({@link AggregatorMain}) stopped by SIGTERM in the middle of training, with
 * two learner processes ({@link LearnerMain}): the aggregator closes itself from its shutdown hook,
 * says after which round, and the learners hear that it stopped and exit with code 4 at once
 * instead of retrying a vanished server.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class SignalStopProcessTest {
  @TempDir
  Path dir;

  /** The learners' trainer: adds 1 to the global model of {@link AggregatorMainTest}. */
  public static final class AddingTrainerFactory implements Supplier<LocalTrainer> {
    @Override
    public LocalTrainer get() {
      return FakeTrainer.adding(Federations.randomParameters(1, false), 1f, 10);
    }
  }

  @Test
  void sigtermMidTraining_learnerProcessesExit4WithinSeconds() throws Exception {
    int port = TestPorts.unusedPort();
    List<ChildJvm> learners = new ArrayList<>();
    // Its output goes to a file, not a pipe: a pipe's last lines may be lost when the process
    // ends on a signal while the test's reader waits.
    Path aggregatorLog = dir.resolve("aggregator.log");
    Process aggregator = new ProcessBuilder(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
        "-cp", System.getProperty("java.class.path"), AggregatorMain.class.getName(),
        "--model-factory", AggregatorMainTest.SmallModelFactory.class.getName(),
        "--host", "127.0.0.1", "--port", String.valueOf(port), "--rounds", "100000",
        "--min-available", "2")
        .redirectErrorStream(true)
        .redirectOutput(aggregatorLog.toFile())
        .start();
    try {
      for (int i = 0; i < 2; i++) {
        learners.add(ChildJvm.start("learner-" + i, List.of(), LearnerMain.class,
            dir.resolve("learner-" + i + ".log"), "--aggregator", "127.0.0.1:" + port,
            "--name", "site-" + i, "--trainer-factory", AddingTrainerFactory.class.getName()));
      }
      awaitLog(aggregatorLog, "round 2/100000", Duration.ofSeconds(60));

      long signalled = System.nanoTime();
      aggregator.destroy(); // SIGTERM

      assertTrue(aggregator.waitFor(20, TimeUnit.SECONDS), "the aggregator ends");
      String log = Files.readString(aggregatorLog);
      assertNotEquals(0, aggregator.exitValue(), log);
      assertTrue(log.matches("(?s).*aggregator stopped by a signal \\(SIGTERM or Ctrl-C\\) after "
          + "round \\d+ of 100000; telling the learners.*"), log);
      for (ChildJvm learner : learners) {
        assertEquals(4, learner.awaitExit(Duration.ofSeconds(10)), learner.output());
        Duration sinceSignal = Duration.ofNanos(System.nanoTime() - signalled);
        assertTrue(sinceSignal.toSeconds() < 10, "learner exited " + sinceSignal + " after");
        assertTrue(learner.output().contains("the aggregator stopped before its training "
            + "ended: it was stopped by a signal after round"), learner.output());
      }
    } finally {
      aggregator.destroyForcibly();
      learners.forEach(ChildJvm::close);
    }
  }

  private static void awaitLog(Path log, String text, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!Files.readString(log).contains(text)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("no '" + text + "' within " + timeout + ":\n"
            + Files.readString(log));
      }
      Thread.sleep(50);
    }
  }
}
