package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link AggregatorMain} keeps standard output for results and {@code --help}: what libraries
 * print to {@code System.out} (ND4J's banner; here every log line, sent there by the logging
 * configuration as a console logging backend does) goes to standard error. The aggregator is a
 * child JVM; its learner runs on a thread of the test.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class StandardOutputTest {

  private static Process aggregator(Path dir, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Dorg.slf4j.simpleLogger.logFile=System.out",
        "-Dorg.slf4j.simpleLogger.log.org.nd4j=info",
        "-cp", System.getProperty("java.class.path"), AggregatorMain.class.getName()));
    command.addAll(List.of(args));
    return new ProcessBuilder(command)
        .redirectOutput(dir.resolve("out").toFile())
        .redirectError(dir.resolve("err").toFile())
        .start();
  }

  @Test
  void logsAndNd4jsBannerGoToStderr_stdoutStaysEmpty(@TempDir Path dir) throws Exception {
    int port = TestPorts.unusedPort();
    Process process = aggregator(dir, "--model-factory",
        AggregatorMainTest.SmallModelFactory.class.getName(), "--host", "127.0.0.1",
        "--port", String.valueOf(port), "--rounds", "1");
    CompletableFuture<Void> learner = Federations.startLearner("one", port,
        FakeTrainer.adding(Federations.randomParameters(1, false), 1f, 5));
    assertTrue(process.waitFor(90, TimeUnit.SECONDS), "the aggregator finishes");
    learner.get(30, TimeUnit.SECONDS);
    String err = Files.readString(dir.resolve("err"));
    assertEquals(0, process.exitValue(), err);
    assertEquals("", Files.readString(dir.resolve("out")));
    assertTrue(err.contains("Loaded [CpuBackend] backend"), err);
    assertTrue(err.contains("training finished in"), err);
  }

  @Test
  void helpGoesToStdout(@TempDir Path dir) throws Exception {
    Process process = aggregator(dir, "--help");
    assertTrue(process.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, process.exitValue());
    assertTrue(Files.readString(dir.resolve("out")).startsWith("Usage: flops-aggregator"),
        Files.readString(dir.resolve("out")));
  }
}
