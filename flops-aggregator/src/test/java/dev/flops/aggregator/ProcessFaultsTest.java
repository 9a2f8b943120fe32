package dev.flops.aggregator;

import static dev.flops.aggregator.AggregatorTest.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.internal.Checkpoint;
import dev.flops.aggregator.internal.CheckpointStore;
import dev.flops.aggregator.kernel.JavaAveraging;
import dev.flops.api.Config;
import dev.flops.api.FederationObserver;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.learner.Learner;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crashes of real processes: a learner JVM killed (SIGKILL) in the middle of its upload, and the
 * aggregator JVM killed in the middle of a round and restarted with resume.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class ProcessFaultsTest {
  private static final Duration WAIT = Duration.ofSeconds(90);

  @TempDir
  Path dir;

  @Test
  void learnerProcessKilledMidUpload_roundCompletesWithTheOthers_modelIsTheirAverage()
      throws Exception {
    Parameters initial = Federations.randomParameters(0, true); // 2 chunks: a partial upload
    AtomicLong round1FinishedAt = new AtomicLong();
    TrainingPlan plan = TrainingPlan.builder().rounds(2).minAvailableLearners(3)
        .minFitResults(2).minEvaluateResults(2).roundTimeout(Duration.ofSeconds(60))
        .observer(new FederationObserver() {
          @Override
          public void onRoundFinished(RoundSummary summary) {
            if (summary.round() == 1) {
              round1FinishedAt.set(System.nanoTime());
            }
          }
        })
        .build();
    FedAvg strategy = FedAvg.builder().minFitLearners(2).minEvaluateLearners(2)
        .fitConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .evaluateConfig(round -> Config.of(DeterministicTrainer.ROUND, round)).build();
    try (LogCapture log = new LogCapture();
        Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .averagingKernel(new JavaAveraging())
        .build()
        .start();
        ChildJvm a = learner("a", aggregator.port());
        ChildJvm b = learner("b", aggregator.port());
        ChildJvm c = learner("c", aggregator.port(), "--block-upload-round", "1")) {
      CompletableFuture<TrainingResult> training = trainAsync(aggregator, plan, strategy);

      c.awaitLine("UPLOAD_STARTED 1"::equals, WAIT);
      long killedAt = System.nanoTime();
      c.kill();
      // A crashed process lost its key: its restart is a new learner, here for round 2.
      try (ChildJvm restarted = learner("c", aggregator.port())) {
        TrainingResult result = training.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        aggregator.shutdownLearners();

        RoundSummary first = result.rounds().get(0);
        assertEquals(2, first.fitSucceeded(), first.toString());
        assertEquals(1, first.fitFailed(), first.toString());
        String reason = first.failures().get(0).reason();
        assertTrue(reason.contains("upload broke off") || reason.contains("disconnected"), reason);
        double secondsToNotice = (round1FinishedAt.get() - killedAt) / 1e9;
        assertTrue(secondsToNotice < 15, "the broken stream failed the task at once, not at the "
            + "60 s round timeout: the round ended " + secondsToNotice + " s after the kill");
        Matcher partial = Pattern.compile("the upload broke off after (\\d+) of (\\d+) bytes")
            .matcher(log.text());
        assertTrue(partial.find(), "the aggregator logs the broken upload");
        assertTrue(Long.parseLong(partial.group(1)) < Long.parseLong(partial.group(2)),
            "killed mid-upload: " + partial.group());
        assertEquals(3, result.rounds().get(1).fitSucceeded(), result.rounds().get(1).toString());
        // The killed learner's partial update never reached the model.
        assertClose(DeterministicTrainer.expected(initial, List.of(
            List.of("a", "b"), List.of("a", "b", "c"))), result.finalParameters(), 1e-5);
        for (ChildJvm learner : List.of(a, b, restarted)) {
          assertEquals(0, learner.awaitExit(WAIT), learner.output());
        }
      }
    }
  }

  @Test
  void aggregatorProcessKilledMidRound_resumed_noRoundLost_resultEqualsUninterruptedRun()
      throws Exception {
    Parameters initial = Federations.randomParameters(0, false);
    List<String> names = List.of("a", "b", "c");
    TrainingResult reference = uninterruptedRun(initial, names);

    int port = TestPorts.unusedPort();
    Path checkpoints = dir.resolve("checkpoints");
    CountDownLatch round3Started = new CountDownLatch(1);
    AtomicBoolean slowedOnce = new AtomicBoolean();
    DeterministicTrainer.Hooks hooks = new DeterministicTrainer.Hooks() {
      @Override
      public void beforeFit(String name, int round) throws InterruptedException {
        if (round == 3 && slowedOnce.compareAndSet(false, true)) {
          round3Started.countDown();
          Thread.sleep(1000); // the aggregator dies while this fit runs
        }
      }
    };
    List<CompletableFuture<Void>> learners = new ArrayList<>();
    for (String name : names) {
      learners.add(Learner.builder()
          .aggregator("127.0.0.1", port)
          .name(name)
          .trainer(new DeterministicTrainer(name, initial, hooks))
          .backoff(Duration.ofMillis(50), Duration.ofMillis(500))
          .connectTimeout(Duration.ofSeconds(60))
          .build()
          .runAsync());
    }
    String[] args = {"--port", String.valueOf(port), "--rounds", "4", "--min-available", "3",
        "--min-fit", "3", "--checkpoint-dir", checkpoints.toString()};
    try (ChildJvm first = ChildJvm.start("aggregator", List.of(), FaultAggregatorMain.class,
        dir.resolve("aggregator-1.log"), args)) {
      assertTrue(round3Started.await(WAIT.toSeconds(), TimeUnit.SECONDS), first.output());
      // Round 3 can start within milliseconds of round 2's end (the model travels inline): wait
      // for the line rather than race the reader of the child's output. The fit sleeps 1 s.
      first.awaitLine(line -> line.equals("ROUND 2 3 0 3 0"), Duration.ofSeconds(1));
      first.kill();
      assertFalse(first.output().contains("ROUND 3"), first.output());
    }
    Checkpoint atCrash = read(checkpoints);
    assertEquals(2, atCrash.round(), "the checkpoint of the last completed round survived");

    List<String> resumedArgs = new ArrayList<>(List.of(args));
    resumedArgs.addAll(List.of("--resume", "true"));
    try (ChildJvm second = ChildJvm.start("aggregator", List.of(), FaultAggregatorMain.class,
        dir.resolve("aggregator-2.log"), resumedArgs.toArray(String[]::new))) {
      assertEquals(0, second.awaitExit(WAIT), second.output());
      String output = second.output();
      assertTrue(output.contains("resuming after round 2 of 4"), output);
      assertFalse(output.contains("ROUND 1 ") || output.contains("ROUND 2 "), output);
      assertTrue(output.contains("ROUND 3 3 0 3 0") && output.contains("ROUND 4 3 0 3 0"), output);
    }
    for (CompletableFuture<Void> learner : learners) {
      learner.get(30, TimeUnit.SECONDS); // they reconnected by themselves and were shut down
    }

    Checkpoint done = read(checkpoints);
    assertEquals(4, done.round());
    assertEquals(atCrash.rounds(), done.rounds().subList(0, 2), "no completed round was lost");
    assertEquals(3, done.learners().size(),
        "the learners kept their identities across the restart: " + done.learners());
    assertClose(reference.finalParameters(), done.parameters(), 1e-6);
    assertClose(DeterministicTrainer.expected(initial, List.of(names, names, names, names)),
        done.parameters(), 1e-5);
    assertEquals(reference.bestRound().round(), done.bestRound());
    for (int r = 0; r < 4; r++) {
      assertEquals(reference.rounds().get(r).loss(), done.rounds().get(r).loss(), 1e-6);
    }
  }

  /** The same federation, in this JVM, without a crash. */
  private static TrainingResult uninterruptedRun(Parameters initial, List<String> names)
      throws Exception {
    TrainingPlan plan = TrainingPlan.builder().rounds(4).minAvailableLearners(3).minFitResults(3)
        .minEvaluateResults(3).build();
    FedAvg strategy = FedAvg.builder().minFitLearners(3).minEvaluateLearners(3).samplingSeed(1)
        .fitConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .evaluateConfig(round -> Config.of(DeterministicTrainer.ROUND, round)).build();
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .averagingKernel(new JavaAveraging())
        .build()
        .start()) {
      for (String name : names) {
        Federations.startLearner(name, aggregator.port(), new DeterministicTrainer(name, initial));
      }
      return aggregator.train(plan, strategy);
    }
  }

  static Checkpoint read(Path directory) throws Exception {
    try (CheckpointStore store = CheckpointStore.open(directory)) {
      return store.read(null).orElseThrow(() -> new AssertionError("no checkpoint in " + directory));
    }
  }

  private ChildJvm learner(String name, int port, String... extra) throws Exception {
    List<String> args = new ArrayList<>(List.of(
        "--aggregator", "127.0.0.1:" + port, "--name", name, "--big", "true"));
    args.addAll(List.of(extra));
    return ChildJvm.start("learner " + name, List.of(), FaultLearnerMain.class,
        dir.resolve("learner-" + name + "-" + System.nanoTime() + ".log"),
        args.toArray(String[]::new));
  }

  static CompletableFuture<TrainingResult> trainAsync(Aggregator aggregator, TrainingPlan plan,
      FedAvg strategy) {
    CompletableFuture<TrainingResult> result = new CompletableFuture<>();
    Thread thread = new Thread(() -> {
      try {
        result.complete(aggregator.train(plan, strategy));
      } catch (Throwable t) {
        result.completeExceptionally(t);
      }
    }, "train");
    thread.setDaemon(true);
    thread.start();
    return result;
  }
}
