package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The aggregator's own executor stays at {@link Aggregator#DEFAULT_EXECUTOR_THREADS} threads
 * however many learners send at once. With gRPC's usual cached pool a burst of callbacks on a
 * busy machine started a thread for almost each one: 335 threads on 2 cores in the 1000-learner
 * round harness (benchmarks/README.md, "Issue 13: the aggregator's memory over rounds"). Here 48 real
 * learners over gRPC on loopback, in this JVM, upload multi-chunk updates in the same instants.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class AggregatorExecutorTest {
  private static final int LEARNERS = 48;

  @Test
  void manyLearnersAtOnce_ownExecutorStaysAtItsBound_everyUpdateFolded() throws Exception {
    Parameters initial = Federations.randomParameters(17, true);
    TrainingPlan plan = TrainingPlan.builder().rounds(3).minAvailableLearners(LEARNERS)
        .minFitResults(LEARNERS).minEvaluateResults(LEARNERS).build();
    List<CompletableFuture<Void>> learners = new ArrayList<>();
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial)).build().start()) {
      for (int i = 0; i < LEARNERS; i++) {
        learners.add(Federations.startLearner("burst-" + i, aggregator.port(),
            FakeTrainer.adding(initial, 1f, 10)));
      }
      TrainingResult result = aggregator.train(plan, FedAvg.builder().build());
      aggregator.shutdownLearners();
      for (CompletableFuture<Void> learner : learners) {
        learner.get(30, TimeUnit.SECONDS);
      }

      assertEquals(3, result.rounds().size(), result.toString());
      for (RoundSummary round : result.rounds()) {
        assertEquals(LEARNERS, round.fitSucceeded(), round.toString());
        assertEquals(LEARNERS, round.evaluateSucceeded(), round.toString());
      }
      int largest = aggregator.largestExecutorPoolSize();
      assertTrue(largest >= 1, "the callbacks ran on the aggregator's own executor");
      assertTrue(largest <= Aggregator.DEFAULT_EXECUTOR_THREADS,
          "the executor grew to " + largest + " threads, more than its bound of "
              + Aggregator.DEFAULT_EXECUTOR_THREADS);
    }
  }
}
