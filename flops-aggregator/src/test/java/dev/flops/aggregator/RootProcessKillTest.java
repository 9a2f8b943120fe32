package dev.flops.aggregator;

import static dev.flops.aggregator.TwoLevelMean.assertParameters;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.FedAvg;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A hierarchical federation whose root is a real process killed with SIGKILL mid-training and
 * started again with resume ({@link HierarchyRootMain}); the clusters and their leaves run in
 * this JVM over real gRPC on loopback. {@link HierarchyTest#rootKilledAndResumedCompletesItsRounds}
 * covers the same story in one JVM (a shutdownNow of the server); this one shows that a crash of
 * the root's process, with no word to the clusters and no code of the root running after it,
 * loses nothing: the clusters reconnect by themselves with their ids, the resumed root runs only
 * the rounds after its checkpoint, and its global is that of an uninterrupted run.
 */
@Timeout(90)
class RootProcessKillTest {
  private static final int CLUSTERS = 2;
  private static final int LEAVES = 3;
  private static final int ROUNDS = 3;
  private static final int CYCLES = 2;
  private static final long SEED = 7;
  private static final Parameters INITIAL = Federations.randomParameters(SEED, false);
  private static final Duration WAIT = Duration.ofSeconds(60);

  @TempDir
  Path dir;

  /** The cluster aggregators; closing one tells its leaves to shut down. */
  private final List<Aggregator> clusters = new ArrayList<>();

  @AfterEach
  void closeClusters() {
    clusters.forEach(Aggregator::close);
  }

  private static float offset(int cluster, int leaf) {
    return 0.1f * (cluster * LEAVES + leaf + 1);
  }

  /** Powers of two: scaling by a weight is exact in float, so only the sums round. */
  private static long examples(int cluster, int leaf) {
    return 1L << (2 + cluster * LEAVES + leaf);
  }

  @Test
  void sigkilledRootResumesAndEndsWithTheUninterruptedGlobal() throws Exception {
    int port = TestPorts.unusedPort();
    // Cluster 0 finishes its cycles of root round 2, then is held until the root is killed: the
    // kill lands after the checkpoint of round 1 and before round 2 can complete, every time.
    ClusterHold hold = new ClusterHold(2);
    List<CompletableFuture<Void>> clusterLearners = new ArrayList<>();
    for (int c = 0; c < CLUSTERS; c++) {
      Aggregator cluster = Aggregator.builder()
          .host("127.0.0.1")
          .port(0)
          .model(new ArrayModel(INITIAL))
          .build()
          .start();
      clusters.add(cluster);
      for (int j = 0; j < LEAVES; j++) {
        Federations.startLearner("c" + c + "-leaf" + j, cluster.port(),
            FakeTrainer.adding(INITIAL, offset(c, j), examples(c, j)));
      }
      TrainingPlan.Builder cycles = TrainingPlan.builder()
          .rounds(CYCLES)
          .minAvailableLearners(LEAVES)
          .tracking(Tracking.off());
      if (c == 0) {
        cycles.observer(hold);
      }
      ClusterTrainer trainer = ClusterTrainer.builder()
          .aggregator(cluster)
          .cycles(cycles.build())
          .strategy(FedAvg.builder().build())
          .checkpointDirectory(dir.resolve("cluster-" + c))
          .build();
      // Long enough to outlast the root's restart (a JVM start, about a second or two here).
      clusterLearners.add(Federations.startLearner("cluster-" + c, port, trainer,
          b -> b.connectTimeout(WAIT)));
    }
    String[] args = {"--port", String.valueOf(port), "--rounds", String.valueOf(ROUNDS),
        "--min-available", String.valueOf(CLUSTERS), "--seed", String.valueOf(SEED),
        "--checkpoint-dir", dir.resolve("root").toString()};

    String clustersBefore;
    List<List<String>> leavesBefore = new ArrayList<>();
    try (ChildJvm first = ChildJvm.start("root", List.of(), HierarchyRootMain.class,
        dir.resolve("root-1.log"), args)) {
      clustersBefore = first.awaitLine(l -> l.startsWith("ROUND 1 "), WAIT).split(" ")[2];
      assertTrue(hold.held.await(WAIT.toSeconds(), TimeUnit.SECONDS),
          "cluster 0 never finished the cycles of root round 2; the root's output:\n"
              + first.output());
      clusters.forEach(cluster -> leavesBefore.add(cluster.connectedLearners()));
      first.kill();
      assertFalse(first.output().contains("ROUND 2"), first.output());
    } finally {
      hold.release.countDown();
    }
    assertEquals(CLUSTERS, clustersBefore.split(",").length, clustersBefore);

    try (ChildJvm second = ChildJvm.start("root", List.of(), HierarchyRootMain.class,
        dir.resolve("root-2.log"), args)) {
      assertEquals(0, second.awaitExit(WAIT), second.output());
      String output = second.output();
      assertTrue(output.contains("resuming after round 1 of " + ROUNDS), output);
      assertFalse(output.contains("ROUND 1 "), output);
      // The clusters reconnected by themselves with their keys: the ids the killed root gave.
      for (int round = 2; round <= ROUNDS; round++) {
        assertTrue(output.contains("ROUND " + round + " " + clustersBefore + "\n"), output);
      }
      String last = second.awaitLine(l -> l.startsWith("FINAL "), Duration.ZERO);
      assertParameters(TwoLevelMean.expected(INITIAL, CLUSTERS, LEAVES,
          RootProcessKillTest::offset, RootProcessKillTest::examples, ROUNDS, CYCLES),
          parse(last.substring("FINAL ".length())), 1e-5);
    }
    for (CompletableFuture<Void> learner : clusterLearners) {
      learner.get(30, TimeUnit.SECONDS); // told to shut down by the resumed root's close()
    }
    for (int c = 0; c < CLUSTERS; c++) {
      assertEquals(LEAVES, leavesBefore.get(c).size());
      assertEquals(leavesBefore.get(c), clusters.get(c).connectedLearners(), "cluster " + c);
    }
    // Cluster 0 answered the repeated root round 2 from its checkpoint, without running its
    // cycles again: 3 root rounds x 2 cycles in all.
    assertEquals(ROUNDS * CYCLES, hold.fitCycles.size(), hold.fitCycles.toString());
  }

  /** The root's printed values, in INITIAL's names and shapes. */
  private static Parameters parse(String printed) {
    String[] values = printed.split(" ");
    List<Tensor> tensors = new ArrayList<>();
    int at = 0;
    for (Tensor tensor : INITIAL) {
      float[] floats = new float[tensor.toFloatArray().length];
      for (int i = 0; i < floats.length; i++) {
        floats[i] = Float.parseFloat(values[at++]);
      }
      tensors.add(Tensor.ofFloats(tensor.name(), tensor.shape(), floats));
    }
    assertEquals(values.length, at, "values printed beyond the model's: " + Arrays.toString(
        Arrays.copyOfRange(values, at, Math.min(values.length, at + 5))));
    return new Parameters(tensors);
  }
}
