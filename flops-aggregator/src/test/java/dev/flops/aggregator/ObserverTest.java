package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.FederationObserver;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.TrainingStarted;
import dev.flops.api.strategy.FedAvg;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Lifecycle events reach observers in order; a throwing observer never stops training. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ObserverTest {

  /** Records every event as a line. */
  static final class Recorder implements FederationObserver {
    final List<String> events = new CopyOnWriteArrayList<>();

    @Override
    public void onTrainingStarted(TrainingStarted event) {
      events.add("started " + event.rounds());
    }

    @Override
    public void onRoundFinished(RoundSummary summary) {
      events.add("round " + summary.round());
    }

    @Override
    public void onTrainingSucceeded(TrainingResult result) {
      events.add("succeeded best=" + result.best().map(RoundSummary::round).orElse(-1));
    }

    @Override
    public void onTrainingFailed(Throwable cause) {
      events.add("failed " + cause.getMessage());
    }
  }

  /** Throws from every callback. */
  static final class Throwing implements FederationObserver {
    @Override
    public void onTrainingStarted(TrainingStarted event) {
      throw new IllegalStateException("observer bug");
    }

    @Override
    public void onRoundFinished(RoundSummary summary) {
      throw new IllegalStateException("observer bug");
    }

    @Override
    public void onTrainingSucceeded(TrainingResult result) {
      throw new IllegalStateException("observer bug");
    }
  }

  @Test
  void eventsArriveInOrder_andAThrowingObserverIsContained() throws Exception {
    Parameters initial = Federations.randomParameters(8, false);
    Recorder recorder = new Recorder();
    TrainingPlan plan = TrainingPlan.builder().rounds(3).observer(new Throwing()).observer(recorder)
        .build();
    FedAvg strategy = FedAvg.builder().build();
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .build()
        .start()) {
      Federations.startLearner("one", aggregator.port(), FakeTrainer.adding(initial, 1f, 5));
      TrainingResult result = aggregator.train(plan, strategy);
      assertEquals(3, result.rounds().size());
    }
    assertEquals(List.of("started 3", "round 1", "round 2", "round 3", "succeeded best=1"),
        recorder.events, "equal accuracy and loss every round: the first stays best");
  }

  @Test
  void tooFewLearnersInTime_failsTrainingAndTellsObservers() throws Exception {
    Recorder recorder = new Recorder();
    TrainingPlan plan = TrainingPlan.builder().minAvailableLearners(2)
        .learnerWait(Duration.ofMillis(300)).observer(recorder).build();
    FedAvg strategy = FedAvg.builder().build();
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(Federations.randomParameters(9, false)))
        .build()
        .start()) {
      TrainingException e = assertThrows(TrainingException.class,
          () -> aggregator.train(plan, strategy));
      assertTrue(e.getMessage().contains("only 0 of the 2 learners needed connected"),
          e.getMessage());
    }
    assertEquals(2, recorder.events.size(), recorder.events.toString());
    assertEquals("started 3", recorder.events.get(0));
    assertTrue(recorder.events.get(1).startsWith("failed only 0 of the 2 learners"),
        recorder.events.toString());
  }
}
