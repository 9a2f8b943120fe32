package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.DType;
import dev.flops.api.LearnerFailure;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.Tensor;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.learner.Learner;
import dev.flops.learner.LearnerException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Bad updates and bad addresses, over real gRPC on loopback: a rejected update is counted as a
 * failure of its round and never touches the global model.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class BadInputTest {

  @Test
  void updateWithOtherShape_isRejected_roundAveragesTheOthers() throws Exception {
    assertBadUpdateRejected(p -> Parameters.of(
        Tensor.ofFloats("dense_W", new long[] {20, 30}, p.get("dense_W").toFloatArray()),
        p.get("dense_b")), "dense_W FLOAT32[30, 20]");
  }

  @Test
  void updateWithOtherNames_isRejected() throws Exception {
    assertBadUpdateRejected(p -> Parameters.of(p.get("dense_W"),
        Tensor.ofFloats("bias", new long[] {20}, p.get("dense_b").toFloatArray())), "dense_b");
  }

  @Test
  void updateWithOtherDtype_isRejected() throws Exception {
    assertBadUpdateRejected(p -> {
      ByteBuffer doubles = ByteBuffer.allocate(20 * 8).order(ByteOrder.LITTLE_ENDIAN);
      return Parameters.of(p.get("dense_W"),
          new Tensor("dense_b", DType.FLOAT64, new long[] {20}, doubles));
    }, "FLOAT64");
  }

  @Test
  void updateWithNaN_isRejected() throws Exception {
    assertBadUpdateRejected(p -> withValue(p, Float.NaN), "non-finite");
  }

  @Test
  void updateWithInfinity_isRejected() throws Exception {
    assertBadUpdateRejected(p -> withValue(p, Float.POSITIVE_INFINITY), "non-finite");
  }

  @Test
  void portAlreadyInUse_clearError() throws Exception {
    Parameters initial = Federations.randomParameters(3, false);
    try (Aggregator first = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial)).build().start()) {
      Aggregator second = Aggregator.builder().host("127.0.0.1").port(first.port())
          .model(new ArrayModel(initial)).build();
      IOException e = assertThrows(IOException.class, second::start);
      assertTrue(e.getMessage().contains("already in use"), e.getMessage());
      assertTrue(e.getMessage().contains(String.valueOf(first.port())), e.getMessage());
      second.close();
    }
  }

  @Test
  void aggregatorHostThatDoesNotResolve_warnedAtOnce_retriedUntilTheConnectTimeout()
      throws Exception {
    Learner learner = Learner.builder()
        .aggregator("no-such-aggregator.invalid:50051")
        .trainer(FakeTrainer.adding(Federations.randomParameters(4, false), 1f, 1))
        .connectTimeout(java.time.Duration.ofSeconds(2))
        .backoff(java.time.Duration.ofMillis(100), java.time.Duration.ofMillis(400))
        .build();
    try (LogCapture log = new LogCapture()) {
      long start = System.nanoTime();
      LearnerException e = assertThrows(LearnerException.class, learner::run);
      long seconds = (System.nanoTime() - start) / 1_000_000_000;
      assertTrue(e.getMessage().contains("'no-such-aggregator.invalid' does not resolve (tried "
          + "for 2 s)"), e.getMessage());
      assertTrue(seconds >= 2, "a name that may appear later is retried for the connect timeout");
      assertTrue(log.text().contains("the aggregator host 'no-such-aggregator.invalid' does not "
          + "resolve (yet); retrying for up to 2 s"), log.text());
    }
  }

  @Test
  void malformedAggregatorAddress_clearError() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Learner.builder().aggregator("localhost"));
    assertTrue(e.getMessage().contains("host:port"), e.getMessage());
  }

  @Test
  void aggregatorWithoutModel_clearError() {
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> Aggregator.builder().build());
    assertTrue(e.getMessage().contains("model("), e.getMessage());
  }

  /** Two good learners and one whose update is transformed by {@code corrupt}. */
  private static void assertBadUpdateRejected(UnaryOperator<Parameters> corrupt, String reason)
      throws Exception {
    Parameters initial = Federations.randomParameters(5, false);
    ArrayModel copy = new ArrayModel(initial);
    TrainingPlan plan = TrainingPlan.builder().rounds(1).minAvailableLearners(3).build();
    FedAvg strategy = FedAvg.builder().build();
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(copy)
        .build()
        .start()) {
      List<CompletableFuture<Void>> learners = new ArrayList<>();
      learners.add(Federations.startLearner("good-1", aggregator.port(),
          FakeTrainer.adding(initial, 1f, 10)));
      learners.add(Federations.startLearner("good-2", aggregator.port(),
          FakeTrainer.adding(initial, 4f, 30)));
      learners.add(Federations.startLearner("bad", aggregator.port(),
          new FakeTrainer(initial, 1000, corrupt, 1.0, 0.5)));

      TrainingResult result = aggregator.train(plan, strategy);
      aggregator.shutdownLearners();

      RoundSummary round = result.finalRound();
      assertEquals(2, round.fitSucceeded());
      assertEquals(1, round.fitFailed());
      LearnerFailure failure = round.failures().get(0);
      assertTrue(failure.reason().startsWith("update rejected"), failure.reason());
      assertTrue(failure.reason().contains(reason), failure.reason());
      // The bad learner's 1000 examples would dominate; the mean is over the good ones only.
      AggregatorTest.assertClose(FakeTrainer.add(initial, (10 * 1f + 30 * 4f) / 40), 
          result.finalParameters(), 1e-5);
      assertEquals(result.finalParameters(), copy.getParameters());
      for (CompletableFuture<Void> learner : learners) {
        learner.get(10, TimeUnit.SECONDS); // the rejected learner stays and exits cleanly too
      }
    }
  }

  private static Parameters withValue(Parameters p, float value) {
    float[] bias = p.get("dense_b").toFloatArray();
    bias[7] = value;
    return Parameters.of(p.get("dense_W"), Tensor.ofFloats("dense_b", new long[] {20}, bias));
  }
}
