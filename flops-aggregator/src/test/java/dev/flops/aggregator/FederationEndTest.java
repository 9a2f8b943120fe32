package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Config;
import dev.flops.api.LocalTrainer;
import dev.flops.api.Parameters;
import dev.flops.api.strategy.FedAvg;
import dev.flops.learner.FederationFailedException;
import dev.flops.learner.LearnerMain;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * How a federation ends, as its learners hear it: the Shutdown carries the outcome, a learner
 * reports a failed training as a failure (and its process exits non-zero), and a learner that
 * connects after the end, while the server still runs, is told at once.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class FederationEndTest {
  @TempDir
  Path dir;

  /** Fits fail on the learner, so a one-learner federation under FAIL stops in round 1. */
  private static Aggregator failingFederation(Parameters initial) throws Exception {
    return Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .build().start();
  }

  private static final TrainingPlan FAILING_PLAN = TrainingPlan.builder().rounds(2)
      .onInsufficientResults(InsufficientResults.FAIL).build();

  private static FedAvg failingStrategy() {
    return FedAvg.builder()
        .fitConfig(round -> Config.of(DeterministicTrainer.ROUND, round)).build();
  }

  /** Trains the failing federation, then ends it as close() would, keeping the server up. */
  private static TrainingException trainFailingThenShutDown(Aggregator aggregator) {
    TrainingException e = assertThrows(TrainingException.class,
        () -> aggregator.train(FAILING_PLAN, failingStrategy()));
    aggregator.shutdownLearners();
    return e;
  }

  private static FakeTrainer brokenFit(Parameters initial) {
    return new FakeTrainer(initial, 10, p -> {
      throw new IllegalStateException("the GPU fell off the bus");
    }, 1.0, 0.5);
  }

  @Test
  void failedTraining_learnerIsToldItFailed_runThrowsWithTheAggregatorsReason() throws Exception {
    Parameters initial = Federations.randomParameters(61, false);
    try (LogCapture log = new LogCapture();
        Aggregator aggregator = failingFederation(initial)) {
      CompletableFuture<Void> learner =
          Federations.startLearner("site-a", aggregator.port(), brokenFit(initial));

      TrainingException training = trainFailingThenShutDown(aggregator);

      ExecutionException ended =
          assertThrows(ExecutionException.class, () -> learner.get(10, TimeUnit.SECONDS));
      FederationFailedException failure =
          assertInstanceOf(FederationFailedException.class, ended.getCause());
      assertEquals(FederationFailedException.Outcome.FAILED, failure.outcome());
      assertEquals(3, failure.exitCode());
      assertTrue(failure.aggregatorReason().startsWith("round 1: the fit phase gathered 0 of the 1"),
          failure.aggregatorReason());
      assertTrue(training.getMessage().contains(failure.aggregatorReason()),
          "the learner hears what the aggregator's TrainingException says: " + training.getMessage());
      assertTrue(log.text().contains("learner site-a: the aggregator's training failed: round 1: "
          + "the fit phase gathered 0 of the 1"), log.text());
      assertFalse(log.text().contains("training finished"), "nothing claims success");
    }
  }

  @Test
  void successfulTraining_learnerReturnsNormally() throws Exception {
    Parameters initial = Federations.randomParameters(62, false);
    TrainingPlan plan = TrainingPlan.builder().rounds(1).build();
    FedAvg strategy = FedAvg.builder().build();
    try (LogCapture log = new LogCapture();
        Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
            .model(new ArrayModel(initial))
            .build().start()) {
      CompletableFuture<Void> learner = Federations.startLearner("site-a", aggregator.port(),
          FakeTrainer.adding(initial, 1f, 10));

      aggregator.train(plan, strategy);
      aggregator.shutdownLearners();

      learner.get(10, TimeUnit.SECONDS);
      assertTrue(log.text().contains("learner site-a: the aggregator's training finished "
          + "(1 rounds completed)"), log.text());
      // Nothing ran when the Shutdown came: the learner does not say it waits for a computation.
      assertTrue(log.text().contains("the aggregator ended the federation (SUCCEEDED: "),
          log.text());
      assertTrue(log.text().contains("; the learner stops now"), log.text());
      assertFalse(log.text().contains("current local computation"), log.text());
    }
  }

  @Test
  void learnerConnectingAfterTheEnd_beforeTheServerCloses_isToldAtOnce() throws Exception {
    Parameters initial = Federations.randomParameters(63, false);
    try (Aggregator aggregator = failingFederation(initial)) {
      Federations.startLearner("site-a", aggregator.port(), brokenFit(initial));
      trainFailingThenShutDown(aggregator);

      // The learners were told to shut down but the server still listens: the window in which a
      // learner used to be welcomed, then left to wait for the close and retry for its
      // connectTimeout.
      long start = System.nanoTime();
      CompletableFuture<Void> late = Federations.startLearner("late", aggregator.port(),
          FakeTrainer.adding(initial, 1f, 10), b -> b.connectTimeout(Duration.ofSeconds(60)));

      ExecutionException ended =
          assertThrows(ExecutionException.class, () -> late.get(10, TimeUnit.SECONDS));
      double seconds = (System.nanoTime() - start) / 1e9;
      FederationFailedException failure =
          assertInstanceOf(FederationFailedException.class, ended.getCause());
      assertEquals(FederationFailedException.Outcome.FAILED, failure.outcome());
      assertTrue(failure.getMessage().contains("the aggregator's training failed: round 1"),
          failure.getMessage());
      assertTrue(seconds < 5, "told at once, not after a wait: " + seconds + " s");
      assertTrue(aggregator.connectedLearners().isEmpty(), "the late learner was not admitted");
    }
  }

  @Test
  void closedBeforeTraining_learnerIsToldTheAggregatorStopped() throws Exception {
    Parameters initial = Federations.randomParameters(64, false);
    CompletableFuture<Void> learner;
    try (Aggregator aggregator = failingFederation(initial)) {
      learner = Federations.startLearner("site-a", aggregator.port(),
          FakeTrainer.adding(initial, 1f, 10));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (aggregator.connectedLearners().isEmpty() && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertEquals(1, aggregator.connectedLearners().size());
    }
    ExecutionException ended =
        assertThrows(ExecutionException.class, () -> learner.get(10, TimeUnit.SECONDS));
    FederationFailedException failure =
        assertInstanceOf(FederationFailedException.class, ended.getCause());
    assertEquals(FederationFailedException.Outcome.STOPPED, failure.outcome());
    assertEquals(4, failure.exitCode());
  }

  /** The trainer of the learner process below: every fit throws. */
  public static final class BrokenTrainerFactory implements Supplier<LocalTrainer> {
    @Override
    public LocalTrainer get() {
      return brokenFit(Federations.randomParameters(65, false));
    }
  }

  @Test
  void learnerProcess_exitsWithCode3AfterAFailedTraining() throws Exception {
    Parameters initial = Federations.randomParameters(65, false);
    try (Aggregator aggregator = failingFederation(initial);
        ChildJvm learner = ChildJvm.start("learner", java.util.List.of(), LearnerMain.class,
            dir.resolve("learner.log"), "--aggregator", "127.0.0.1:" + aggregator.port(),
            "--name", "site-a", "--trainer-factory", BrokenTrainerFactory.class.getName())) {
      trainFailingThenShutDown(aggregator);

      assertEquals(3, learner.awaitExit(Duration.ofSeconds(30)), learner.output());
      assertTrue(learner.output().contains("the aggregator's training failed: round 1: the fit "
          + "phase gathered 0 of the 1"), learner.output());
    }
  }
}
