package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.kernel.JavaAveraging;
import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A person watching a federation sees it work: the aggregator logs a progress line while a phase
 * runs long, each learner logs the start and end of every task, and a round's duration leaves out
 * the time it waited for learners, which is reported apart. Real gRPC on loopback; the trainers are
 * arithmetic fakes that sleep where a real one would train.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ProgressTest {

  private static FakeTrainer slow(Parameters initial, long fitMillis) {
    return new FakeTrainer(initial, 7, p -> {
      try {
        Thread.sleep(fitMillis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return FakeTrainer.add(p, 1f);
    }, 0.25, 0.75);
  }

  /** An aggregator on loopback. */
  private static Aggregator.Builder onLoopback(Parameters initial) {
    return Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial));
  }

  /** A plan without tracking, as every test here wants it. */
  private static TrainingPlan.Builder untracked() {
    return TrainingPlan.builder().tracking(Tracking.off());
  }

  @Test
  void aLongFitPhase_logsProgress_andLearnersLogEachTask() throws Exception {
    Parameters initial = Federations.randomParameters(21, false);
    String text;
    try (LogCapture logs = new LogCapture();
        Aggregator aggregator =
            onLoopback(initial)
            .progressInterval(Duration.ofMillis(200))
            .build()
            .start()) {
      CompletableFuture<Void> quick =
          Federations.startLearner("quick", aggregator.port(), slow(initial, 0));
      CompletableFuture<Void> laggard =
          Federations.startLearner("laggard", aggregator.port(), slow(initial, 1500));
      TrainingResult result = aggregator.train(
          untracked().rounds(1).minAvailableLearners(2).build(), FedAvg.withDefaults());
      aggregator.shutdownLearners();
      quick.get(10, TimeUnit.SECONDS);
      laggard.get(10, TimeUnit.SECONDS);
      assertEquals(2, result.finalRound().fitSucceeded());
      text = logs.text();
    }
    assertTrue(text.contains("round 1 fit: 1 of 2 updates in, 1 learner still training; "), text);
    assertTrue(Pattern.compile("quick: FIT task \\S+ \\(round 1\\) started").matcher(text).find(),
        text);
    assertTrue(Pattern.compile("laggard: FIT task \\S+ \\(round 1\\) done in 1\\.\\d\\d s: 7 "
        + "examples, fit_calls 1\\.0000; download \\d+\\.\\d\\d s, fit 1\\.\\d\\d s, upload "
        + "\\d+\\.\\d\\d s").matcher(text).find(), text);
    assertTrue(Pattern.compile("quick: EVALUATE task \\S+ \\(round 1\\) done in \\d+\\.\\d\\d s: "
        + "7 examples, loss 0\\.2500, accuracy 0\\.7500").matcher(text).find(), text);
  }

  @Test
  void aShortPhase_logsNoProgressLine() throws Exception {
    Parameters initial = Federations.randomParameters(22, false);
    String text;
    try (LogCapture logs = new LogCapture();
        Aggregator aggregator = onLoopback(initial)
            .build()
            .start()) {
      Federations.startLearner("one", aggregator.port(), slow(initial, 0));
      aggregator.train(untracked().rounds(1).build(), FedAvg.withDefaults());
      text = logs.text();
    }
    assertTrue(!text.contains("round 1 fit:") && !text.contains("round 1 evaluate:"), text);
  }

  @Test
  void theWaitForLearners_isReportedApartFromTheRoundsDuration() throws Exception {
    Parameters initial = Federations.randomParameters(23, false);
    RoundSummary first;
    String text;
    try (LogCapture logs = new LogCapture();
        Aggregator aggregator =
            onLoopback(initial)
            // The Java kernel: ND4J's first load (seconds) would blur the round's own time.
            .averagingKernel(new JavaAveraging())
            .build()
            .start()) {
      CompletableFuture<TrainingResult> training = CompletableFuture.supplyAsync(() -> {
        try {
          return aggregator.train(untracked().rounds(2).minAvailableLearners(2).build(),
              FedAvg.withDefaults());
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
      });
      Federations.startLearner("early", aggregator.port(), slow(initial, 0));
      Thread.sleep(2000);
      Federations.startLearner("late", aggregator.port(), slow(initial, 0));
      TrainingResult result = training.get(30, TimeUnit.SECONDS);
      first = result.rounds().get(0);
      RoundSummary second = result.rounds().get(1);
      assertTrue(second.learnerWait().toMillis() < 100, "round 2 did not wait: " + second);
      text = logs.text();
    }
    assertTrue(first.learnerWait().toMillis() >= 1700, "round 1 waited for 'late': " + first);
    assertTrue(first.duration().toMillis() < 1200,
        "round 1's duration leaves the wait out: " + first);
    assertTrue(Pattern.compile("round 1/2 \\|.*\\| [01]\\.\\d\\d s \\(\\+ [12]\\.\\d\\d s waiting for "
        + "learners\\)").matcher(text).find(), text);
  }

  @Test
  void progressInterval_rejectsANonPositiveValue() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Aggregator.builder().progressInterval(Duration.ZERO));
    assertEquals("progressInterval must be positive but was 0 ms", e.getMessage());
  }
}
