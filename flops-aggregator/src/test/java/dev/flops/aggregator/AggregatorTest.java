package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.Tensor;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A whole federation over real gRPC (netty, loopback, port 0) with arithmetic learners. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class AggregatorTest {

  @Test
  void threeLearners_globalModelIsExampleWeightedMeanOfUpdates() throws Exception {
    Parameters initial = Federations.randomParameters(1, true);
    ArrayModel copy = new ArrayModel(initial);
    TrainingPlan plan = TrainingPlan.builder().rounds(2).minAvailableLearners(3).minFitResults(3)
        .build();
    FedAvg strategy = FedAvg.builder().minFitLearners(3).build();
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(copy)
        .build()
        .start()) {
      List<FakeTrainer> trainers = List.of(FakeTrainer.adding(initial, 1f, 10),
          FakeTrainer.adding(initial, 2f, 20), FakeTrainer.adding(initial, 4f, 70));
      List<CompletableFuture<Void>> learners = List.of(
          Federations.startLearner("a", aggregator.port(), trainers.get(0)),
          Federations.startLearner("b", aggregator.port(), trainers.get(1)),
          Federations.startLearner("c", aggregator.port(), trainers.get(2)));

      TrainingResult result = aggregator.train(plan, strategy);
      aggregator.shutdownLearners();

      // Each round adds the weighted mean offset (10*1 + 20*2 + 70*4) / 100 = 3.3 to every value.
      Parameters expected = FakeTrainer.add(FakeTrainer.add(initial, 3.3f), 3.3f);
      assertClose(expected, result.finalParameters(), 1e-4);
      assertEquals(result.finalParameters(), copy.getParameters(),
          "the aggregator's model copy holds the final global parameters");
      assertEquals(2, copy.sets());
      for (RoundSummary round : result.rounds()) {
        assertEquals(3, round.fitSucceeded());
        assertEquals(0, round.fitFailed());
        assertEquals(3, round.evaluateSucceeded());
        assertEquals(1.0, round.loss(), 1e-12);
        assertEquals(0.5, round.accuracy(), 1e-12);
        assertEquals(100, round.evaluation().numExamples());
      }
      for (CompletableFuture<Void> learner : learners) {
        learner.get(10, TimeUnit.SECONDS); // every learner was told to shut down and exited cleanly
      }
      for (FakeTrainer trainer : trainers) {
        // Downloads: fit 1, evaluate 1, evaluate 2. Round 2's fit runs on the parameters the
        // learner evaluated in round 1, which its model still holds: no second download.
        assertEquals(3, trainer.model().sets(), "parameters set into the learner's model");
      }
    }
  }

  @Test
  void learnerStartedBeforeAggregator_waitsThenJoins() throws Exception {
    Parameters initial = Federations.randomParameters(2, false);
    TrainingPlan plan = TrainingPlan.builder().rounds(1).learnerWait(Duration.ofSeconds(30))
        .build();
    FedAvg strategy = FedAvg.builder().build();
    int port = TestPorts.unusedPort();
    CompletableFuture<Void> learner =
        Federations.startLearner("early", port, FakeTrainer.adding(initial, 1f, 5));
    Thread.sleep(1500); // the learner is retrying against a closed port meanwhile
    assertTrue(!learner.isDone(), "the learner keeps retrying while the aggregator is down");
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(port)
        .model(new ArrayModel(initial))
        .build()
        .start()) {
      TrainingResult result = aggregator.train(plan, strategy);
      assertEquals(1, result.finalRound().fitSucceeded());
      assertClose(FakeTrainer.add(initial, 1f), result.finalParameters(), 1e-6);
    }
    learner.get(10, TimeUnit.SECONDS);
  }

  @Test
  void learnerWhoseFitThrows_countsAsFailure_federationGoesOn() throws Exception {
    Parameters initial = Federations.randomParameters(3, false);
    TrainingPlan plan = TrainingPlan.builder().rounds(2).minAvailableLearners(2).build();
    FedAvg strategy = FedAvg.builder().build();
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .build()
        .start()) {
      FakeTrainer broken = new FakeTrainer(initial, 10, p -> {
        throw new IllegalStateException("local disk full");
      }, 2.0, 0.25);
      List<CompletableFuture<Void>> learners = List.of(
          Federations.startLearner("good", aggregator.port(), FakeTrainer.adding(initial, 1f, 10)),
          Federations.startLearner("broken", aggregator.port(), broken));

      TrainingResult result = aggregator.train(plan, strategy);
      aggregator.shutdownLearners();

      for (RoundSummary round : result.rounds()) {
        assertEquals(1, round.fitSucceeded());
        assertEquals(1, round.fitFailed());
        assertTrue(round.failures().get(0).reason().contains("local disk full"),
            round.failures().toString());
        assertEquals(2, round.evaluateSucceeded(), "the failed learner still evaluates");
        assertEquals((1.0 * 10 + 2.0 * 10) / 20, round.loss(), 1e-12);
      }
      assertClose(FakeTrainer.add(FakeTrainer.add(initial, 1f), 1f), result.finalParameters(), 1e-6);
      for (CompletableFuture<Void> learner : learners) {
        learner.get(10, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void stragglerPastRoundTimeout_countsAsFailure_lateUpdateDiscarded() throws Exception {
    Parameters initial = Federations.randomParameters(4, false);
    ArrayModel copy = new ArrayModel(initial);
    TrainingPlan plan = TrainingPlan.builder().rounds(2).minAvailableLearners(2)
        .roundTimeout(Duration.ofSeconds(2)).build();
    FedAvg strategy = FedAvg.builder().build();
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(copy)
        .build()
        .start()) {
      FakeTrainer slow = new FakeTrainer(initial, 1000, p -> {
        try {
          Thread.sleep(3500);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        return FakeTrainer.add(p, 100f);
      }, 1.0, 0.5);
      Federations.startLearner("fast", aggregator.port(), FakeTrainer.adding(initial, 1f, 10));
      Federations.startLearner("slow", aggregator.port(), slow);

      TrainingResult result = aggregator.train(plan, strategy);

      RoundSummary first = result.rounds().get(0);
      assertEquals(1, first.fitSucceeded());
      assertEquals(1, first.fitFailed());
      assertTrue(first.failures().get(0).reason().contains("timed out"), first.failures().toString());
      // The slow learner's +100 with weight 1000 never reaches the model.
      assertTrue(result.rounds().stream().allMatch(r -> r.fitSucceeded() >= 1));
      float[] before = initial.get("dense_b").toFloatArray();
      float[] after = result.finalParameters().get("dense_b").toFloatArray();
      for (int i = 0; i < before.length; i++) {
        assertTrue(after[i] - before[i] < 3f, "no late +100 update folded: " + (after[i] - before[i]));
      }
    }
  }

  static void assertClose(Parameters expected, Parameters actual, double tolerance) {
    assertEquals(expected.names(), actual.names());
    for (Tensor e : expected) {
      Tensor a = actual.get(e.name());
      assertTrue(e.sameSpec(a), () -> e.spec() + " vs " + a.spec());
      float[] ev = e.toFloatArray();
      float[] av = a.toFloatArray();
      for (int i = 0; i < ev.length; i++) {
        if (Math.abs(ev[i] - av[i]) > tolerance) {
          throw new AssertionError(String.format(
              "%s[%d]: expected %s but was %s", e.name(), i, ev[i], av[i]));
        }
      }
    }
  }
}
