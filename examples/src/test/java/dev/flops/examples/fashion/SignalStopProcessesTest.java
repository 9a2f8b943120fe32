package dev.flops.examples.fashion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.TestPorts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fashion-aggregator} stopped by SIGTERM after its first round, with two
 * {@code fashion-learner} processes, as a new user does with {@code kill -TERM}: the aggregator
 * says it was stopped by a signal and after which round, exits non-zero, and the learners hear
 * that it stopped and exit with code 4 within seconds instead of retrying a vanished server.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SignalStopProcessesTest {

  /** Starts {@code main} in a JVM of its own, its output (both streams) in {@code name}.log. */
  static Process java(Path dir, String name, Class<?> main, String... args)
      throws IOException {
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), main.getName()));
    command.addAll(List.of(args));
    // Files, not pipes: the last lines of a process that ends on a signal stay readable.
    return new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(dir.resolve(name + ".log").toFile())
        .start();
  }

  @Test
  void sigtermAfterRound1_learnersExit4WithinSeconds(@TempDir Path dir) throws Exception {
    int port = TestPorts.unusedPort();
    Process aggregator = java(dir, "aggregator", FashionAggregatorMain.class,
        "--host", "127.0.0.1", "--port", String.valueOf(port), "--rounds", "50",
        "--min-learners", "2", "--no-tracking", "--no-central-evaluation");
    List<Process> learners = new ArrayList<>();
    try {
      for (int i = 0; i < 2; i++) {
        learners.add(java(dir, "learner-" + i, FashionLearnerMain.class,
            "--aggregator", "127.0.0.1:" + port, "--index", String.valueOf(i), "--learners", "2",
            "--train-limit", "500", "--test-limit", "100"));
      }
      Path aggregatorLog = dir.resolve("aggregator.log");
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
      while (!Files.readString(aggregatorLog).contains("round 1/50")) {
        assertTrue(System.nanoTime() < deadline && aggregator.isAlive(),
            "round 1 finishes: " + Files.readString(aggregatorLog));
        Thread.sleep(100);
      }

      long signalled = System.nanoTime();
      aggregator.destroy(); // SIGTERM, as kill -TERM sends

      assertTrue(aggregator.waitFor(30, TimeUnit.SECONDS), "the aggregator ends");
      String log = Files.readString(aggregatorLog);
      assertNotEquals(0, aggregator.exitValue(), log);
      assertTrue(log.matches("(?s).*aggregator stopped by a signal \\(SIGTERM or Ctrl-C\\) after "
          + "round \\d+ of 50; telling the learners.*"), log);
      for (int i = 0; i < learners.size(); i++) {
        Process learner = learners.get(i);
        long left = TimeUnit.SECONDS.toNanos(15) - (System.nanoTime() - signalled);
        assertTrue(learner.waitFor(Math.max(left, 0), TimeUnit.NANOSECONDS),
            "learner " + i + " exits within 15 s of the signal");
        String learnerLog = Files.readString(dir.resolve("learner-" + i + ".log"));
        assertEquals(4, learner.exitValue(), learnerLog);
        assertTrue(learnerLog.contains("the aggregator stopped before its training ended: it was "
            + "stopped by a signal after round"), learnerLog);
      }
    } finally {
      aggregator.destroyForcibly();
      learners.forEach(Process::destroyForcibly);
    }
  }
}
