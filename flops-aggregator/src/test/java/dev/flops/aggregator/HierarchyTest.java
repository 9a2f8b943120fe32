package dev.flops.aggregator;

import static dev.flops.aggregator.TwoLevelMean.assertParameters;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.FederationObserver;
import dev.flops.api.FitResult;
import dev.flops.api.LocalTrainer;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.learner.Learner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hierarchical federation over real gRPC on loopback: a root aggregator whose learners are
 * cluster aggregators ({@link ClusterTrainer}), each with learners of its own. The leaves add
 * their own offset to the parameters and report their own example count, so the root's model is
 * predictable: the test computes the two-level example-weighted mean itself, in double precision.
 */
@Timeout(120)
class HierarchyTest {
  private static final int CLUSTERS = 2;
  private static final int LEAVES = 3;
  private static final Parameters INITIAL = Federations.randomParameters(7, false);

  @TempDir
  Path temp;

  private final List<AutoCloseable> closeAtEnd = new ArrayList<>();
  private final List<FakeTrainer> leafTrainers = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = closeAtEnd.size() - 1; i >= 0; i--) {
      closeAtEnd.get(i).close();
    }
  }

  private static float offset(int cluster, int leaf) {
    return 0.1f * (cluster * LEAVES + leaf + 1);
  }

  private static long examples(int cluster, int leaf) {
    return 10 + 7L * (cluster * LEAVES + leaf);
  }

  /** The root's global after {@code rounds} root rounds of {@code cycles} cycles, in double. */
  private static double[][] expected(int rounds, int cycles) {
    return TwoLevelMean.expected(INITIAL, CLUSTERS, LEAVES, HierarchyTest::offset,
        HierarchyTest::examples, rounds, cycles);
  }

  private Aggregator startAggregator(int port) throws Exception {
    Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1")
        .port(port)
        .model(new ArrayModel(INITIAL))
        .build()
        .start();
    closeAtEnd.add(aggregator);
    return aggregator;
  }

  private TrainingPlan.Builder cyclesPlan(int cycles) {
    return TrainingPlan.builder()
        .rounds(cycles)
        .minAvailableLearners(LEAVES)
        .tracking(Tracking.off());
  }

  /** A cluster aggregator and the builder of its trainer at the root. */
  private record Cluster(Aggregator aggregator, ClusterTrainer.Builder trainer) {}

  private Cluster cluster(TrainingPlan cycles) throws Exception {
    Aggregator aggregator = startAggregator(0);
    return new Cluster(aggregator, ClusterTrainer.builder()
        .aggregator(aggregator)
        .cycles(cycles)
        .strategy(FedAvg.builder().build()));
  }

  /** Starts the cluster's leaves and its learner of the root; returns its aggregator. */
  private Aggregator startCluster(int c, int rootPort, Cluster cluster) {
    for (int j = 0; j < LEAVES; j++) {
      Federations.startLearner("c" + c + "-leaf" + j, cluster.aggregator().port(), leaf(c, j));
    }
    Federations.startLearner("cluster-" + c, rootPort, cluster.trainer().build());
    return cluster.aggregator();
  }

  private FakeTrainer leaf(int c, int j) {
    FakeTrainer leaf = FakeTrainer.adding(INITIAL, offset(c, j), examples(c, j));
    leafTrainers.add(leaf);
    return leaf;
  }

  private static TrainingPlan.Builder rootPlan(int rounds) {
    return TrainingPlan.builder()
        .rounds(rounds)
        .minAvailableLearners(CLUSTERS)
        .tracking(Tracking.off())
        .announceRounds(true);
  }

  @Test
  void rootGlobalIsTheTwoLevelExampleWeightedMean() throws Exception {
    Aggregator root = startAggregator(0);
    List<Aggregator> clusters = new ArrayList<>();
    for (int c = 0; c < CLUSTERS; c++) {
      clusters.add(startCluster(c, root.port(), cluster(cyclesPlan(2).build())));
    }
    List<List<String>> leavesAfterRound1 = new CopyOnWriteArrayList<>();
    LogCapture log = new LogCapture();
    closeAtEnd.add(log);
    TrainingResult result = root.train(rootPlan(2)
            .observer(new FederationObserver() {
              @Override
              public void onRoundFinished(RoundSummary summary) {
                if (summary.round() == 1) {
                  clusters.forEach(cluster -> leavesAfterRound1.add(cluster.connectedLearners()));
                }
              }
            })
            .build(),
        FedAvg.builder().build());

    assertParameters(expected(2, 2), result.finalParameters(), 1e-5);
    for (RoundSummary round : result.rounds()) {
      assertEquals(CLUSTERS, round.fitSucceeded(), "root round " + round.round());
      assertEquals(0, round.fitFailed());
      // Each cluster answers the examples of its last cycle: every leaf's count, summed.
      long all = 0;
      for (int c = 0; c < CLUSTERS; c++) {
        for (int j = 0; j < LEAVES; j++) {
          all += examples(c, j);
        }
      }
      assertEquals(all, round.fitExamples());
      // The clusters' own federated evaluation travels up as fit metrics (FakeTrainer: 0.5, 1.0).
      assertEquals(0.5, round.fitMetrics().get(ClusterTrainer.CLUSTER_ACCURACY), 1e-9);
      assertEquals(1.0, round.fitMetrics().get(ClusterTrainer.CLUSTER_LOSS), 1e-9);
      // The root's evaluation is each cluster's evaluate-only round.
      assertEquals(CLUSTERS, round.evaluateSucceeded());
      assertEquals(0.5, round.accuracy(), 1e-9);
    }
    // The leaves stayed connected across root rounds with the same ids, and fitted only in the
    // cycles: 2 root rounds x 2 cycles, none in the evaluate-only rounds.
    for (int c = 0; c < CLUSTERS; c++) {
      assertEquals(LEAVES, leavesAfterRound1.get(c).size());
      assertEquals(leavesAfterRound1.get(c), clusters.get(c).connectedLearners());
    }
    for (FakeTrainer leaf : leafTrainers) {
      assertEquals(4, leaf.fits);
      // 4 cycles each evaluated, plus one evaluate-only round per root round.
      assertEquals(4 + 2, leaf.evaluations);
    }
    // An evaluate-only round keeps the parameters by design: nothing to warn about.
    assertFalse(log.text().contains("no update was aggregated"), log.text());
  }

  @Test
  void aKilledLeafFailsItsClusterRoundNotTheRootRound() throws Exception {
    Aggregator root = startAggregator(0);
    CountDownLatch blocked = new CountDownLatch(1);
    // Blocks in its second fit (cycle 2 of root round 1) until its learner is stopped.
    FakeTrainer inner = leaf(0, 2);
    LocalTrainer blocking = new LocalTrainer() {
      private int fits;

      @Override
      public dev.flops.api.FederatedModel model() {
        return inner.model();
      }

      @Override
      public FitResult fit(Config config) throws Exception {
        if (++fits == 2) {
          blocked.countDown();
          new CountDownLatch(1).await();
        }
        return inner.fit(config);
      }

      @Override
      public EvaluateResult evaluate(Config config) {
        return inner.evaluate(config);
      }
    };
    List<RoundSummary> cluster0Rounds = new CopyOnWriteArrayList<>();
    TrainingPlan cluster0Cycles = cyclesPlan(2)
        .minAvailableLearners(2)
        .minFitResults(2)
        .minEvaluateResults(2)
        .observer(new FederationObserver() {
          @Override
          public void onRoundFinished(RoundSummary summary) {
            cluster0Rounds.add(summary);
          }
        })
        .build();
    Cluster cluster0 = cluster(cluster0Cycles);
    Learner blockingLearner = Learner.builder()
        .aggregator("127.0.0.1", cluster0.aggregator().port())
        .name("c0-leaf2")
        .trainer(blocking)
        .build();
    CompletableFuture<Void> blockingRun = blockingLearner.runAsync();
    Federations.startLearner("c0-leaf0", cluster0.aggregator().port(), leaf(0, 0));
    Federations.startLearner("c0-leaf1", cluster0.aggregator().port(), leaf(0, 1));
    Federations.startLearner("cluster-0", root.port(), cluster0.trainer().build());
    startCluster(1, root.port(), cluster(cyclesPlan(2).build()));

    CompletableFuture<TrainingResult> training = CompletableFuture.supplyAsync(() -> {
      try {
        return root.train(rootPlan(2).build(), FedAvg.builder().build());
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
    });
    assertTrue(blocked.await(60, TimeUnit.SECONDS), "the blocking leaf never fitted twice");
    blockingLearner.stop();
    TrainingResult result = training.get(60, TimeUnit.SECONDS);

    assertEquals(2, result.rounds().size());
    for (RoundSummary round : result.rounds()) {
      assertEquals(CLUSTERS, round.fitSucceeded(), "root round " + round.round());
      assertEquals(0, round.fitFailed(), "root round " + round.round());
    }
    assertTrue(cluster0Rounds.stream().anyMatch(r -> r.fitFailed() == 1),
        "no round of cluster 0 shows the killed leaf's failure: " + cluster0Rounds);
    blockingRun.handle((done, failed) -> null).get(10, TimeUnit.SECONDS);
  }

  @Test
  void aClusterTrainingThatFailsIsAFailedLearnerAtTheRoot() throws Exception {
    Aggregator root = startAggregator(0);
    // Cluster 0 needs 4 leaves but has 3: its every training fails after a short wait.
    TrainingPlan impossible = cyclesPlan(2)
        .minAvailableLearners(LEAVES + 1)
        .learnerWait(Duration.ofMillis(300))
        .build();
    startCluster(0, root.port(), cluster(impossible));
    startCluster(1, root.port(), cluster(cyclesPlan(2).build()));

    TrainingResult result = root.train(rootPlan(2)
        .minFitResults(1)
        .minEvaluateResults(1)
        .build(), FedAvg.builder().build());

    assertEquals(2, result.rounds().size());
    for (RoundSummary round : result.rounds()) {
      assertEquals(1, round.fitSucceeded(), "root round " + round.round());
      assertEquals(1, round.fitFailed(), "root round " + round.round());
      assertTrue(round.failures().get(0).reason().contains("learners"),
          round.failures().get(0).reason());
    }
  }

  @Test
  void rootKilledAndResumedCompletesItsRounds(@TempDir Path checkpoints) throws Exception {
    Aggregator root = startAggregator(0);
    int port = root.port();
    // Cluster 0 finishes its cycles of root round 2, then is held until the root has crashed:
    // the root never receives that work and asks for root round 2 again once resumed.
    ClusterHold hold = new ClusterHold(2);
    TrainingPlan heldCycles = cyclesPlan(2).observer(hold).build();
    for (int c = 0; c < CLUSTERS; c++) {
      Cluster cluster = cluster(c == 0 ? heldCycles : cyclesPlan(2).build());
      cluster.trainer().checkpointDirectory(checkpoints.resolve("cluster-" + c));
      startCluster(c, port, cluster);
    }
    AtomicReference<List<String>> clustersBefore = new AtomicReference<>();
    TrainingPlan first = rootPlan(3)
        .checkpointDirectory(checkpoints.resolve("root"))
        .resume(true)
        .observer(new FederationObserver() {
          @Override
          public void onRoundFinished(RoundSummary summary) {
            clustersBefore.set(root.connectedLearners());
          }
        })
        .build();
    AtomicReference<Throwable> ended = new AtomicReference<>();
    Thread training = new Thread(() -> {
      try {
        root.train(first, FedAvg.builder().build());
      } catch (Throwable e) {
        ended.set(e);
      }
    }, "killed-root");
    training.start();
    assertTrue(hold.held.await(60, TimeUnit.SECONDS),
        "cluster 0 never finished the cycles of root round 2");
    // A crash, as near as one JVM gets: the server is gone without a word to the clusters and
    // the training thread stops (killing a JVM costs seconds of ND4J start-up per test).
    root.killServerForTest();
    training.interrupt();
    training.join(30_000);
    assertFalse(training.isAlive());
    assertNotNull(ended.get(), "the killed root's training did not stop");
    root.close();
    hold.release.countDown();

    Aggregator resumed = startAggregator(port);
    TrainingResult result = resumed.train(rootPlan(3)
        .checkpointDirectory(checkpoints.resolve("root"))
        .resume(true)
        .build(), FedAvg.builder().build());

    assertEquals(3, result.rounds().size());
    assertParameters(expected(3, 2), result.finalParameters(), 1e-5);
    // The clusters reconnected with their keys: the same ids as before the crash.
    assertEquals(clustersBefore.get().stream().sorted().toList(),
        resumed.connectedLearners().stream().sorted().toList());
    // Cluster 0 answered the repeated root round 2 from its checkpoint, without running its
    // cycles again: 3 root rounds x 2 cycles in all.
    assertEquals(6, hold.fitCycles.size(), hold.fitCycles.toString());
    try (Stream<Path> files = Files.list(checkpoints.resolve("cluster-0"))) {
      assertEquals(3, files.filter(p -> p.getFileName().toString().startsWith("root-round-"))
          .count());
    }
  }

  @Test
  void clusterRunsNestUnderTheRootRoundRuns() throws Exception {
    Path mlruns = temp.resolve("mlruns");
    Tracking tracking = Tracking.fileStore(mlruns);
    Aggregator root = startAggregator(0);
    for (int c = 0; c < CLUSTERS; c++) {
      startCluster(c, root.port(),
          cluster(cyclesPlan(2).tracking(tracking).name("cluster-" + c).build()));
    }
    TrainingResult result = root.train(rootPlan(2).tracking(tracking).build(),
        FedAvg.builder().build());

    String experiment = result.trackingInfo().orElseThrow().experimentId();
    String rootRun = result.trackingInfo().orElseThrow().parentRunId();
    Map<String, String[]> runs = new java.util.HashMap<>();
    readRuns(mlruns.resolve(experiment), runs);
    for (int round = 1; round <= 2; round++) {
      String rootRound = runOf(runs, "round " + round, rootRun);
      for (int c = 0; c < CLUSTERS; c++) {
        String clusterTraining = runOf(runs, "cluster-" + c + ", root round " + round, rootRound);
        runOf(runs, "round 1", clusterTraining);
        runOf(runs, "round 2", clusterTraining);
      }
    }
  }

  @Test
  void clustersTrackingToAnotherStore_makeTopLevelRunsThere() throws Exception {
    Tracking rootStore = Tracking.fileStore(temp.resolve("root-mlruns"));
    Tracking clusterStore = Tracking.fileStore(temp.resolve("cluster-mlruns"));
    Aggregator root = startAggregator(0);
    for (int c = 0; c < CLUSTERS; c++) {
      startCluster(c, root.port(),
          cluster(cyclesPlan(2).tracking(clusterStore).name("cluster-" + c).build()));
    }
    root.train(rootPlan(2).tracking(rootStore).build(), FedAvg.builder().build());

    // A parent in the root's store cannot be pointed at from another store: the clusters'
    // trainings are top-level runs of their own store, their cycles nested under them.
    Map<String, String[]> runs = new java.util.HashMap<>();
    try (Stream<Path> experiments = Files.list(temp.resolve("cluster-mlruns"))) {
      for (Path experiment : experiments.filter(Files::isDirectory).toList()) {
        readRuns(experiment, runs);
      }
    }
    for (int round = 1; round <= 2; round++) {
      for (int c = 0; c < CLUSTERS; c++) {
        String training = runOf(runs, "cluster-" + c + ", root round " + round, "");
        runOf(runs, "round 1", training);
        runOf(runs, "round 2", training);
      }
    }
  }

  /** Adds the runs of an experiment of a file store: id to {name, parent id or ""}. */
  private static void readRuns(Path experiment, Map<String, String[]> runs) throws Exception {
    try (Stream<Path> dirs = Files.list(experiment)) {
      for (Path dir : dirs.filter(d -> Files.exists(d.resolve("tags/mlflow.runName"))).toList()) {
        Path parent = dir.resolve("tags/mlflow.parentRunId");
        runs.put(dir.getFileName().toString(), new String[] {
            Files.readString(dir.resolve("tags/mlflow.runName")).trim(),
            Files.exists(parent) ? Files.readString(parent).trim() : ""});
      }
    }
  }

  /** The id of the run named {@code name} under {@code parent}; fails if there is not one. */
  private static String runOf(Map<String, String[]> runs, String name, String parent) {
    List<String> found = runs.entrySet().stream()
        .filter(e -> e.getValue()[0].equals(name) && parent.equals(e.getValue()[1]))
        .map(Map.Entry::getKey)
        .toList();
    assertEquals(1, found.size(), "runs named '" + name + "' under " + parent + ": " + found);
    return found.get(0);
  }

  @Test
  void builderRefusesAPlanWithItsOwnCheckpointsAndMissingParts() throws Exception {
    TrainingPlan withCheckpoints = cyclesPlan(2).checkpointDirectory(temp).build();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ClusterTrainer.builder().cycles(withCheckpoints));
    assertTrue(e.getMessage().contains("ClusterTrainer.Builder.checkpointDirectory"),
        e.getMessage());
    IllegalStateException missing = assertThrows(IllegalStateException.class,
        () -> ClusterTrainer.builder().strategy(FedAvg.builder().build()).build());
    assertTrue(missing.getMessage().contains("aggregator(...)"), missing.getMessage());
    Aggregator cluster = Aggregator.builder().model(new ArrayModel(INITIAL)).build();
    missing = assertThrows(IllegalStateException.class,
        () -> ClusterTrainer.builder().aggregator(cluster).build());
    assertTrue(missing.getMessage().contains("strategy(...)"), missing.getMessage());
    // The trainer's model is the cluster aggregator's own copy, not one it could be handed apart.
    ClusterTrainer trainer = ClusterTrainer.builder()
        .aggregator(cluster)
        .strategy(FedAvg.builder().build())
        .build();
    assertTrue(trainer.model() == cluster.model());
  }
}
