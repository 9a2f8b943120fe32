package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Parameters;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * While the aggregator waits for learners it says so: when the wait starts, whenever the number
 * connected changes, and every progressInterval in between, with durations as people write them.
 * Real learners over gRPC on loopback.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LearnerWaitLogTest {
  // Set by the helper that builds the aggregator, for the test's train(plan, strategy) calls.
  private TrainingPlan plan;
  private FedAvg strategy;


  private Aggregator.Builder waitingForTwo(Parameters initial, Duration learnerWait) {
    plan = TrainingPlan.builder().rounds(1).minAvailableLearners(2)
        .tracking(Tracking.off()).learnerWait(learnerWait).build();
    strategy = FedAvg.builder().build();
    return Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .progressInterval(Duration.ofMillis(300));
  }

  @Test
  void waitingForLearners_logsEachChangeAndEveryProgressInterval() throws Exception {
    Parameters initial = Federations.randomParameters(31, false);
    String text;
    try (LogCapture logs = new LogCapture();
        Aggregator aggregator = waitingForTwo(initial, Duration.ofSeconds(20)).build().start()) {
      CompletableFuture<TrainingResult> training = CompletableFuture.supplyAsync(() -> {
        try {
          return aggregator.train(plan, strategy);
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
      });
      Federations.startLearner("early", aggregator.port(), FakeTrainer.adding(initial, 1f, 5));
      Thread.sleep(1500);
      Federations.startLearner("late", aggregator.port(), FakeTrainer.adding(initial, 1f, 5));
      assertEquals(1, training.get(30, TimeUnit.SECONDS).rounds().size());
      text = logs.text();
    }
    assertTrue(text.contains("waiting for learners: 0 of 2 connected (waiting up to 20 s)"), text);
    assertTrue(Pattern.compile("still waiting for learners: 1 of 2 connected \\(\\d+ ms of 20 s\\)")
        .matcher(text).find(), "the change to 1 is logged at once: " + text);
    int lines = 0;
    var line = Pattern.compile("still waiting for learners: 1 of 2 connected "
        + "\\((\\d+ ms|\\d(\\.\\d)? s) of 20 s\\)").matcher(text);
    while (line.find()) {
      lines++;
    }
    assertTrue(lines >= 3, "the change, then a line every 300 ms while nothing changes: " + text);
    assertFalse(text.contains("PT20S"), text);
  }

  @Test
  void tooFewLearnersInTime_theErrorSaysTheWaitForPeople() throws Exception {
    Parameters initial = Federations.randomParameters(32, false);
    try (Aggregator aggregator = waitingForTwo(initial, Duration.ofMillis(1500)).build().start()) {
      Federations.startLearner("alone", aggregator.port(), FakeTrainer.adding(initial, 1f, 5));
      TrainingException e = assertThrows(TrainingException.class,
          () -> aggregator.train(plan, strategy));
      assertTrue(e.getMessage().contains("only 1 of the 2 learners needed connected within 1.5 s"),
          e.getMessage());
    }
  }
}
