package dev.flops.examples.fashion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.TestPorts;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The three mains of a hierarchical federation across machines, as the examples README gives
 * them: the root ({@link FashionAggregatorMain}), a cluster ({@link FashionClusterMain}) as its
 * own JVM process, and the cluster's learners ({@link FashionLearnerMain} with a site's share).
 * The root and the learners run their commands on threads of this JVM (one more JVM per learner
 * would only add ND4J start-ups); the cluster, the new main, is a real process.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class HierarchicalProcessesTest {

  @Test
  void rootClusterProcessAndLeaves_trainAndExitCleanly(@TempDir Path logs) throws Exception {
    int rootPort = TestPorts.unusedPort();
    int clusterPort = TestPorts.unusedPort();
    Path clusterLog = logs.resolve("cluster.log");
    Process cluster = new ProcessBuilder(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"),
        FashionClusterMain.class.getName(),
        "--root", "127.0.0.1:" + rootPort, "--host", "127.0.0.1",
        "--port", String.valueOf(clusterPort), "--name", "site-0",
        "--learners", "2", "--cycles", "2", "--no-tracking")
        .redirectErrorStream(true)
        .redirectOutput(clusterLog.toFile())
        .start();
    List<CompletableFuture<Integer>> leaves = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      String index = String.valueOf(i);
      leaves.add(CompletableFuture.supplyAsync(() -> new CommandLine(new FashionLearnerMain())
          .execute("--aggregator", "127.0.0.1:" + clusterPort, "--clusters", "2",
              "--cluster", "0", "--learners", "2", "--index", index,
              "--train-limit", "2000", "--test-limit", "400")));
    }

    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int exit = new CommandLine(
        new FashionAggregatorMain(new PrintStream(bytes, true, StandardCharsets.UTF_8)))
        .execute("--host", "127.0.0.1", "--port", String.valueOf(rootPort), "--rounds", "2",
            "--min-learners", "1", "--no-tracking", "--test-limit", "400");
    String table = bytes.toString(StandardCharsets.UTF_8);

    assertEquals(0, exit, table);
    assertTrue(table.lines().anyMatch(l -> l.matches("\\s+2\\s+1/0\\s+1/0\\s+.*")), table);
    assertTrue(cluster.waitFor(60, TimeUnit.SECONDS), "the cluster exits");
    String log = Files.readString(clusterLog);
    assertEquals(0, cluster.exitValue(), log);
    // Its cycles ran as trainings of their own, named after the root round they served.
    assertTrue(log.contains("training 'site-0, root round 2' started: 2 rounds"), log);
    for (CompletableFuture<Integer> leaf : leaves) {
      assertEquals(0, leaf.get(60, TimeUnit.SECONDS));
    }
  }
}
