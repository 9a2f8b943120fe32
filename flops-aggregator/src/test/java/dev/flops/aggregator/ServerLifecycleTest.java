package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Parameters;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The aggregator as a long-lived server: building it does nothing, starting it binds, trainings
 * run on it one after the other with the same learners, and only closing it ends the learners.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ServerLifecycleTest {

  /** Every socket this process holds, as /proc/self/fd's "socket:[inode]" targets. */
  private static Set<String> openSockets() throws IOException {
    Set<String> sockets = new TreeSet<>();
    try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
      for (Path fd : fds.toList()) {
        try {
          String target = Files.readSymbolicLink(fd).toString();
          if (target.startsWith("socket:")) {
            sockets.add(target);
          }
        } catch (IOException closedMeanwhile) {
          // The fd of the listing itself, or one closed while listing.
        }
      }
    }
    return sockets;
  }

  private static Set<String> liveThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .map(t -> t.getName() + "#" + t.getId()).collect(Collectors.toCollection(TreeSet::new));
  }

  private static Set<String> files(Path directory) throws IOException {
    try (Stream<Path> paths = Files.walk(directory)) {
      return paths.map(Path::toString).collect(Collectors.toCollection(TreeSet::new));
    }
  }

  @Test
  void build_leavesNoFileThreadOrSocketBehind(@TempDir Path dir) throws Exception {
    Path workingDirectory = Path.of("").toAbsolutePath();
    Parameters initial = Federations.randomParameters(1, false);
    // Load the classes first, so that a lazily started JVM thread is not mistaken for ours.
    Aggregator.builder().model(new ArrayModel(initial)).build();
    Set<String> filesBefore = files(workingDirectory.resolve("src"));
    Set<String> topBefore = Files.list(workingDirectory).map(Path::toString)
        .collect(Collectors.toCollection(TreeSet::new));
    Set<String> threadsBefore = liveThreads();
    Set<String> socketsBefore = openSockets();

    Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .build();

    assertEquals(socketsBefore, openSockets(), "build() opened a socket");
    assertEquals(threadsBefore, liveThreads(), "build() started a thread");
    assertEquals(topBefore, Files.list(workingDirectory).map(Path::toString)
        .collect(Collectors.toCollection(TreeSet::new)), "build() created a file or directory");
    assertEquals(filesBefore, files(workingDirectory.resolve("src")));
    assertThrows(IllegalStateException.class, aggregator::port, "not bound before start()");

    aggregator.start();
    try {
      assertTrue(aggregator.port() > 0);
      Set<String> socketsAfterStart = openSockets();
      socketsAfterStart.removeAll(socketsBefore);
      assertFalse(socketsAfterStart.isEmpty(), "start() binds a listening socket");
    } finally {
      aggregator.close();
    }
  }

  @Test
  void trainTwice_withTheSameLearners_bothComplete_learnersStayConnected_twoParentRuns(
      @TempDir Path dir) throws Exception {
    Parameters initial = Federations.randomParameters(2, false);
    Path mlruns = dir.resolve("mlruns");
    CompletableFuture<Void> first;
    CompletableFuture<Void> second;
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .build()
        .start()) {
      first = Federations.startLearner("one", aggregator.port(),
          FakeTrainer.adding(initial, 1f, 10));
      second = Federations.startLearner("two", aggregator.port(),
          FakeTrainer.adding(initial, 3f, 30));
      TrainingPlan.Builder plan = TrainingPlan.builder()
          .minAvailableLearners(2).minFitResults(2)
          .tracking(Tracking.fileStore(mlruns));

      TrainingResult a = aggregator.train(plan.rounds(2).name("experiment a").build(),
          FedAvg.withDefaults());
      List<String> between = aggregator.connectedLearners();
      assertFalse(first.isDone() || second.isDone(), "the learners stay between trainings");
      TrainingResult b = aggregator.train(plan.rounds(1).name("experiment b").build(),
          FedAvg.builder().fractionFit(0.5).minFitLearners(2).build());

      assertEquals(2, a.rounds().size());
      assertEquals(1, b.rounds().size());
      assertEquals(List.of("learner-1", "learner-2"), between);
      assertEquals(between, aggregator.connectedLearners(), "the same learners, the same ids");
      // Each round adds the weighted mean offset (1*10 + 3*30)/40 = 2.5 to the global model; the
      // second training starts from where the first ended: 3 rounds in all.
      assertArrayEquals(FakeTrainer.add(initial, 7.5f).get(initial.names().get(0)).toFloatArray(),
          b.finalParameters().get(initial.names().get(0)).toFloatArray(), 1e-4f);
      assertTrue(a.trackingInfo().isPresent() && b.trackingInfo().isPresent());
      assertFalse(a.trackingInfo().get().parentRunId().equals(b.trackingInfo().get().parentRunId()),
          "two trainings, two parent runs");
      Path experiment = mlruns.resolve(a.trackingInfo().get().experimentId());
      assertEquals("experiment a", Files.readString(experiment
          .resolve(a.trackingInfo().get().parentRunId()).resolve("tags/mlflow.runName")));
      assertEquals("experiment b", Files.readString(experiment
          .resolve(b.trackingInfo().get().parentRunId()).resolve("tags/mlflow.runName")));
      assertFalse(first.isDone() || second.isDone(), "still connected before close");
    }
    first.get(30, TimeUnit.SECONDS);
    second.get(30, TimeUnit.SECONDS);
  }

  @Test
  void afterShutdownLearners_noTrainingRuns_andLearnersEndWithTheLastOutcome() throws Exception {
    Parameters initial = Federations.randomParameters(3, false);
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .build()
        .start()) {
      CompletableFuture<Void> learner = Federations.startLearner("one", aggregator.port(),
          FakeTrainer.adding(initial, 1f, 10));
      aggregator.train(TrainingPlan.builder().rounds(1).tracking(Tracking.off()).build(),
          FedAvg.withDefaults());

      aggregator.shutdownLearners();

      learner.get(30, TimeUnit.SECONDS); // a succeeded federation: the learner returns normally
      IllegalStateException e = assertThrows(IllegalStateException.class,
          () -> aggregator.train(TrainingPlan.defaults(), FedAvg.withDefaults()));
      assertTrue(e.getMessage().contains("shut down"), e.getMessage());
    }
  }
}
