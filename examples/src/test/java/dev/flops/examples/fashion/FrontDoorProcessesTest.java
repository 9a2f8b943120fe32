package dev.flops.examples.fashion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.TestPorts;
import dev.flops.dl4j.NativeThreads;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Fashion aggregator and learners as a new user runs them, each its own JVM: standard output
 * holds the results only (even with logging, ND4J's start-up banner among it, configured to print
 * to {@code System.out}, as a console logging backend does), the aggregator evaluates centrally on
 * the whole test set and says which accuracy is which, and each learner process sizes its native
 * threads to its share of the machine's cores.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class FrontDoorProcessesTest {

  private static Process java(Path dir, String name, List<String> jvmFlags, Class<?> main,
      String... args) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmFlags);
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(main.getName());
    command.addAll(List.of(args));
    return new ProcessBuilder(command)
        .redirectOutput(dir.resolve(name + ".out").toFile())
        .redirectError(dir.resolve(name + ".err").toFile())
        .start();
  }

  @Test
  void stdoutHoldsResultsOnly_centralEvaluationIsNamed_learnersShareTheCores(@TempDir Path dir)
      throws Exception {
    int port = TestPorts.unusedPort();
    // Every log line, ND4J's banner included, configured to go to System.out.
    List<String> logsToStdout = List.of("-Dorg.slf4j.simpleLogger.logFile=System.out",
        "-Dorg.slf4j.simpleLogger.log.org.nd4j=info");
    Process aggregator = java(dir, "aggregator", logsToStdout, FashionAggregatorMain.class,
        "--host", "127.0.0.1", "--port", String.valueOf(port), "--rounds", "1",
        "--min-learners", "2", "--no-tracking", "--test-limit", "500");
    List<Process> learners = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      List<String> args = new ArrayList<>(List.of("--aggregator", "127.0.0.1:" + port,
          "--index", String.valueOf(i), "--learners", "2", "--partition", "labels:2",
          "--train-limit", "2000", "--test-limit", "400"));
      if (i == 1) {
        args.addAll(List.of("--native-threads", "1"));
      }
      learners.add(java(dir, "learner-" + i, logsToStdout, FashionLearnerMain.class,
          args.toArray(String[]::new)));
    }
    assertTrue(aggregator.waitFor(3, TimeUnit.MINUTES), "the aggregator finishes");
    for (Process learner : learners) {
      assertTrue(learner.waitFor(1, TimeUnit.MINUTES), "a learner exits");
    }
    String out = Files.readString(dir.resolve("aggregator.out"));
    String err = Files.readString(dir.resolve("aggregator.err"));
    assertEquals(0, aggregator.exitValue(), err);

    List<String> lines = out.strip().lines().toList();
    assertEquals(5, lines.size(), out);
    assertTrue(lines.get(0).startsWith("Fashion-MNIST aggregator: 1 rounds, 2 learners needed")
        && (lines.get(0).contains("central evaluation on embedded subset")
            || lines.get(0).contains("central evaluation on full Fashion-MNIST from")), out);
    assertEquals("accuracy: federated (each learner's own test shard, example-weighted); central "
        + "(the global model on all 500 test images)", lines.get(1));
    assertTrue(lines.get(2).startsWith("round  fit ok/failed  evaluate ok/failed  loss    "
        + "accuracy  central  duration  learner wait"), out);
    assertTrue(lines.get(3).matches("\\s+1\\s+2/0\\s+2/0\\s+\\d\\.\\d{4}\\s+\\d\\.\\d{4}\\s+"
        + "0\\.\\d{4}\\s+\\d+\\.\\d s\\s+\\d+\\.\\d s"), out);
    assertTrue(lines.get(4).startsWith("best round: 1 "), out);
    assertTrue(err.contains("Loaded [CpuBackend] backend"), "ND4J's banner went to stderr: " + err);
    assertTrue(err.contains("round 1: central evaluation loss"), err);

    int cores = Runtime.getRuntime().availableProcessors();
    String auto = Files.readString(dir.resolve("learner-0.err"));
    Matcher m = Pattern.compile("native threads: (\\d+) \\(auto; (\\d+) cores, (\\d+) learner "
        + "process\\(es\\) on this host\\)").matcher(auto);
    assertTrue(m.find(), auto);
    long processes = Long.parseLong(m.group(3));
    // Other learner JVMs of this user may run beside the test's two.
    assertTrue(processes >= 2, auto);
    assertEquals(cores, Integer.parseInt(m.group(2)), auto);
    assertEquals(NativeThreads.perProcess(cores, processes), Integer.parseInt(m.group(1)), auto);
    String explicit = Files.readString(dir.resolve("learner-1.err"));
    assertTrue(explicit.contains("native threads: 1 (--native-threads;"), explicit);
    for (int i = 0; i < 2; i++) {
      assertEquals(0, learners.get(i).exitValue());
      assertEquals("", Files.readString(dir.resolve("learner-" + i + ".out")),
          "a learner prints no results");
      String log = Files.readString(dir.resolve("learner-" + i + ".err"));
      assertTrue(Pattern.compile("fashion-" + i + ": FIT task \\S+ \\(round 1\\) done in "
          + "\\d+\\.\\d\\d s: \\d+ examples, train_loss").matcher(log).find(), log);
    }
  }
}
