package dev.flops.aggregator;

import static dev.flops.aggregator.AggregatorTest.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Config;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.learner.Learner;
import io.grpc.ClientInterceptor;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The round policy (a phase with fewer results than the strategy's minimum is retried or fails
 * training, and its results never reach the model), dropouts and stragglers, over real gRPC.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class RoundPolicyTest {

  private static TrainingPlan.Builder plan(int learners) {
    return TrainingPlan.builder().rounds(1).minAvailableLearners(learners);
  }

  private static FedAvg.Builder strategy() {
    return FedAvg.builder()
        .fitConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .evaluateConfig(round -> Config.of(DeterministicTrainer.ROUND, round));
  }

  private static Aggregator aggregator(Parameters initial) throws Exception {
    return Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial)).build().start();
  }

  /** Adds +1 on its first fit and +10 on every later one: a leak of attempt 1 would show. */
  private static FakeTrainer counting(Parameters initial, long examples) {
    AtomicInteger calls = new AtomicInteger();
    return new FakeTrainer(initial, examples,
        p -> FakeTrainer.add(p, calls.incrementAndGet() == 1 ? 1f : 10f), 1.0, 0.5);
  }

  @Test
  void fitShortOfMinimum_retry_attemptDiscardedAndRunAgain() throws Exception {
    Parameters initial = Federations.randomParameters(21, false);
    AtomicInteger flakyCalls = new AtomicInteger();
    FakeTrainer flaky = new FakeTrainer(initial, 60, p -> {
      if (flakyCalls.incrementAndGet() == 1) {
        throw new IllegalStateException("first fit fails");
      }
      return FakeTrainer.add(p, 100f);
    }, 1.0, 0.5);
    try (LogCapture log = new LogCapture();
        Aggregator aggregator = aggregator(initial)) {
      Federations.startLearner("a", aggregator.port(), counting(initial, 10));
      Federations.startLearner("b", aggregator.port(), counting(initial, 30));
      Federations.startLearner("flaky", aggregator.port(), flaky);

      TrainingResult result = aggregator.train(plan(3).minFitResults(3).build(),
          strategy().minFitLearners(3).build());

      RoundSummary round = result.finalRound();
      assertEquals(3, round.fitSucceeded(), round.toString());
      assertEquals(1, round.fitFailed(), round.toString());
      assertTrue(round.failures().get(0).reason().contains("first fit fails"), round.toString());
      // Attempt 2 only: (10*10 + 30*10 + 60*100) / 100; attempt 1's +1 updates were discarded.
      assertClose(FakeTrainer.add(initial, 64f), result.finalParameters(), 1e-4);
      assertTrue(log.text().contains("round 1: the fit phase gathered 2 of the 3 results it needs "
          + "(attempt 1)"), log.text());
      assertTrue(log.text().contains("retried (attempt 2 of 3)"), log.text());
    }
  }

  @Test
  void fitShortOfMinimum_fail_trainingStopsAndTheModelKeepsItsParameters() throws Exception {
    Parameters initial = Federations.randomParameters(22, false);
    ArrayModel copy = new ArrayModel(initial);
    FakeTrainer broken = new FakeTrainer(initial, 10, p -> {
      throw new IllegalStateException("out of memory");
    }, 1.0, 0.5);
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0).model(copy)
        .build().start()) {
      Federations.startLearner("good", aggregator.port(), FakeTrainer.adding(initial, 1f, 10));
      Federations.startLearner("broken", aggregator.port(), broken);

      TrainingException e = assertThrows(TrainingException.class, () -> aggregator.train(
          plan(2).minFitResults(2).onInsufficientResults(InsufficientResults.FAIL).build(),
          strategy().minFitLearners(2).build()));

      assertTrue(e.getMessage().contains("round 1: the fit phase gathered 1 of the 2 results"),
          e.getMessage());
      assertTrue(e.getMessage().contains("out of memory"), e.getMessage());
      assertTrue(e.getMessage().contains("onInsufficientResults is FAIL"), e.getMessage());
      assertEquals(1, broken.fits, "FAIL never retries");
      assertEquals(0, copy.sets(), "the one accepted update never reached the model");
      assertEquals(initial, copy.getParameters());
    }
  }

  @Test
  void fitShortOfMinimum_retryExhausted_failsAfterTheLastAttempt() throws Exception {
    Parameters initial = Federations.randomParameters(23, false);
    FakeTrainer broken = new FakeTrainer(initial, 10, p -> {
      throw new IllegalStateException("no GPU");
    }, 1.0, 0.5);
    try (Aggregator aggregator = aggregator(initial)) {
      Federations.startLearner("broken", aggregator.port(), broken);

      TrainingException e = assertThrows(TrainingException.class,
          () -> aggregator.train(plan(1).maxRoundAttempts(2).build(), strategy().build()));

      assertTrue(e.getMessage().contains("gathered 0 of the 1 results it needs (attempt 2)"),
          e.getMessage());
      assertTrue(e.getMessage().contains("all 2 attempts fell short"), e.getMessage());
      assertEquals(2, broken.fits);
    }
  }

  @Test
  void evaluateShortOfMinimum_retry_onlyTheEvaluationRunsAgain() throws Exception {
    Parameters initial = Federations.randomParameters(24, false);
    AtomicInteger evaluations = new AtomicInteger();
    AtomicInteger fits = new AtomicInteger();
    DeterministicTrainer.Hooks hooks = new DeterministicTrainer.Hooks() {
      @Override
      public void beforeFit(String name, int round) {
        fits.incrementAndGet();
      }

      @Override
      public void beforeEvaluate(String name, int round) {
        if (name.equals("b") && evaluations.incrementAndGet() == 1) {
          throw new IllegalStateException("test set unreadable");
        }
      }
    };
    try (Aggregator aggregator = aggregator(initial)) {
      for (String name : List.of("a", "b")) {
        Federations.startLearner(name, aggregator.port(),
            new DeterministicTrainer(name, initial, hooks));
      }

      TrainingResult result = aggregator.train(
          plan(2).rounds(2).minEvaluateResults(2).build(),
          strategy().minEvaluateLearners(2).build());

      RoundSummary first = result.rounds().get(0);
      assertEquals(2, first.fitSucceeded());
      assertEquals(0, first.fitFailed());
      assertEquals(2, first.evaluateSucceeded(), first.toString());
      assertEquals(1, first.evaluateFailed(), first.toString());
      assertEquals(4, fits.get(), "2 learners x 2 rounds: the fit phase was not repeated");
      assertClose(DeterministicTrainer.expected(initial,
          List.of(List.of("a", "b"), List.of("a", "b"))), result.finalParameters(), 1e-5);
    }
  }

  @Test
  void brokenUploadStream_failsTheTaskAtOnce_notAtTheRoundTimeout() throws Exception {
    Parameters initial = Federations.randomParameters(25, true);
    // The header and the first chunk went out, then the learner's network breaks.
    ClientInterceptor breakUploads = UploadFaults.afterMessages(2,
        call -> call.cancel("the learner's network broke", null));
    try (Aggregator aggregator = aggregator(initial)) {
      Federations.startLearner("steady", aggregator.port(),
          new DeterministicTrainer("steady", initial));
      Learner.builder().aggregator("127.0.0.1", aggregator.port()).name("broken")
          .trainer(new DeterministicTrainer("broken", initial))
          .interceptor(breakUploads)
          .build().runAsync();

      long start = System.nanoTime();
      TrainingResult result = aggregator.train(
          plan(2).roundTimeout(Duration.ofSeconds(60)).build(), strategy().build());
      double seconds = (System.nanoTime() - start) / 1e9;

      RoundSummary round = result.finalRound();
      assertEquals(1, round.fitSucceeded(), round.toString());
      assertEquals(1, round.fitFailed(), round.toString());
      // The aggregator notices the broken upload itself when its header got through, else the
      // learner reports it on its control stream; either way at once.
      String reason = round.failures().get(0).reason();
      assertTrue(reason.contains("the upload broke off") || reason.contains("transfer broke off"),
          round.toString());
      assertTrue(seconds < 20, "the round took " + seconds + " s; the timeout is 60 s");
      assertClose(DeterministicTrainer.expected(initial, List.of(List.of("steady"))),
          result.finalParameters(), 1e-5);
    }
  }

  @Test
  void straggler_doesNotHoldTheRound_itsUpdateNeverCounts_notSentOnceTheFederationEnded() throws Exception {
    Parameters initial = Federations.randomParameters(26, false);
    DeterministicTrainer.Hooks slow = new DeterministicTrainer.Hooks() {
      @Override
      public void beforeFit(String name, int round) throws InterruptedException {
        Thread.sleep(4000);
      }
    };
    try (LogCapture log = new LogCapture();
        Aggregator aggregator = aggregator(initial)) {
      Federations.startLearner("fast", aggregator.port(), new DeterministicTrainer("fast", initial));
      CompletableFuture<Void> straggler = Federations.startLearner("slow", aggregator.port(),
          new DeterministicTrainer("slow", initial, slow));

      TrainingResult result = aggregator.train(
          plan(2).roundTimeout(Duration.ofSeconds(1)).build(), strategy().build());
      // The learners hear the federation's end here, no longer at train()'s own end.
      aggregator.shutdownLearners();

      RoundSummary round = result.finalRound();
      assertEquals(1, round.fitSucceeded(), round.toString());
      assertTrue(round.failures().stream().anyMatch(f -> f.reason().contains("timed out")),
          round.toString());
      // Fit and evaluate phases each end at the 1 s timeout, well before the 4 s fit does.
      assertTrue(round.duration().toMillis() < 3500,
          "the round ended before the straggler's fit did: " + round.duration());
      assertClose(DeterministicTrainer.expected(initial, List.of(List.of("fast"))),
          result.finalParameters(), 1e-5);
      // The one round is over before the straggler's fit returns, and so is the federation: the
      // straggler heard the Shutdown during its fit and does not send the stale update at all
      // (a late update while the federation still runs is refused: LateReportLogTest).
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      String notSent = "the aggregator ended the federation while this task ran (SUCCEEDED";
      while (!log.text().contains(notSent) && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      assertTrue(log.text().contains(notSent + ": "), log.text());
      assertTrue(log.text().contains("the upload is not attempted"), log.text());
      straggler.get(10, TimeUnit.SECONDS);
    }
  }
}
