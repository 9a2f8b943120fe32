package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Config;
import dev.flops.api.LearnerFailure;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.Tensor;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.proto.v1.FederationGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The round policy by the kind of failure, over real gRPC: deterministic rejections (an update
 * unlike the global model, non-finite values) are not retried against the same learners and the
 * final error says to fix the learners' model or data; time-outs still advise a longer round
 * timeout or more learners.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class RefusalPolicyTest {

  private static Parameters withNaN(Parameters p) {
    float[] bias = p.get("dense_b").toFloatArray();
    bias[3] = Float.NaN;
    return Parameters.of(p.get("dense_W"), Tensor.ofFloats("dense_b", new long[] {20}, bias));
  }

  private static Parameters wrongShape(Parameters p) {
    return Parameters.of(p.get("dense_W"),
        Tensor.ofFloats("dense_b", new long[] {19}, new float[19]));
  }

  @Test
  void everyUpdateNaN_notRetried_adviceSaysFixTheModelOrData() throws Exception {
    assertRejectedOnce(RefusalPolicyTest::withNaN, "non-finite");
  }

  @Test
  void everyUpdateOfTheWrongShape_notRetried_adviceSaysFixTheModelOrData() throws Exception {
    assertRejectedOnce(RefusalPolicyTest::wrongShape, "does not match the global model");
  }

  /** Two learners, both sending a bad update, under the default RETRY with 3 attempts. */
  private static void assertRejectedOnce(UnaryOperator<Parameters> corrupt, String reason)
      throws Exception {
    Parameters initial = Federations.randomParameters(71, false);
    FakeTrainer first = new FakeTrainer(initial, 10, corrupt, 1.0, 0.5);
    FakeTrainer second = new FakeTrainer(initial, 10, corrupt, 1.0, 0.5);
    TrainingPlan plan = TrainingPlan.builder().rounds(1).minAvailableLearners(2)
        .minFitResults(2).build();
    FedAvg strategy = FedAvg.builder().minFitLearners(2).build();
    try (LogCapture log = new LogCapture();
        Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
            .model(new ArrayModel(initial))
            .build().start()) {
      Federations.startLearner("a", aggregator.port(), first);
      Federations.startLearner("b", aggregator.port(), second);

      TrainingException e = assertThrows(TrainingException.class,
          () -> aggregator.train(plan, strategy));

      String message = e.getMessage();
      assertEquals(1, first.fits, "the same learners are not asked for the same update again");
      assertEquals(1, second.fits, "the same learners are not asked for the same update again");
      assertFalse(log.text().contains("retried (attempt 2"), log.text());
      assertTrue(message.contains("round 1: the fit phase gathered 0 of the 2 results it needs "
          + "(attempt 1)"), message);
      assertTrue(message.contains("every failure was a rejected result and no other learner is "
          + "connected"), message);
      assertTrue(message.contains("Fix the learners' model or data: every failed result was "
          + "refused as invalid"), message);
      assertTrue(message.contains("\n  learner-"), message);
      assertTrue(message.contains(reason), message);
      assertFalse(message.contains("start more learners"), message);
      assertFalse(message.contains("roundTimeout"), message);
      assertFalse(message.contains("minFitResults"), message);
    }
  }

  @Test
  void rejectedWhileAnotherLearnerIsConnected_retriedWithAFreshSample() throws Exception {
    Parameters initial = Federations.randomParameters(72, false);
    FakeTrainer bad = new FakeTrainer(initial, 10, RefusalPolicyTest::withNaN, 1.0, 0.5);
    FakeTrainer good = FakeTrainer.adding(initial, 1f, 10);
    TrainingPlan plan = TrainingPlan.builder().rounds(1).minAvailableLearners(2)
        .maxRoundAttempts(10).build();
    // One learner of the two fits per attempt; this seed samples learner-1 first.
    FedAvg strategy = FedAvg.builder().fractionFit(0.5)
        .samplingSeed(SEED_SAMPLING_LEARNER_1_FIRST).build();
    try (LogCapture log = new LogCapture();
        Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
            .model(new ArrayModel(initial))
            .build().start()) {
      Federations.startLearner("bad", aggregator.port(), bad);
      awaitConnected(aggregator, 1); // "bad" is learner-1
      Federations.startLearner("good", aggregator.port(), good);

      TrainingResult result = aggregator.train(plan, strategy);

      RoundSummary round = result.finalRound();
      assertEquals(1, round.fitSucceeded(), round.toString());
      assertTrue(bad.fits >= 1, "the bad learner was sampled first: " + round);
      assertEquals(bad.fits, round.fitFailed(), round.toString());
      for (LearnerFailure failure : round.failures()) {
        assertEquals(LearnerFailure.Kind.REJECTED, failure.kind(), failure.toString());
      }
      assertTrue(log.text().contains("retried (attempt 2 of 10)"), log.text());
      AggregatorTest.assertClose(FakeTrainer.add(initial, 1f), result.finalParameters(), 1e-5);
    }
  }

  private static final long SEED_SAMPLING_LEARNER_1_FIRST = 1;

  @Test
  void timedOut_adviceSaysRaiseRoundTimeoutOrStartMoreLearners_notFixTheData() throws Exception {
    Parameters initial = Federations.randomParameters(73, false);
    DeterministicTrainer.Hooks slow = new DeterministicTrainer.Hooks() {
      @Override
      public void beforeFit(String name, int round) throws InterruptedException {
        Thread.sleep(3000);
      }
    };
    TrainingPlan plan = TrainingPlan.builder().rounds(1).maxRoundAttempts(1)
        .roundTimeout(Duration.ofMillis(300)).build();
    FedAvg strategy = FedAvg.builder()
        .fitConfig(round -> Config.of(DeterministicTrainer.ROUND, round)).build();
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .build().start()) {
      Federations.startLearner("slow", aggregator.port(),
          new DeterministicTrainer("slow", initial, slow));

      TrainingException e = assertThrows(TrainingException.class,
          () -> aggregator.train(plan, strategy));

      String message = e.getMessage();
      assertTrue(message.contains("Raise roundTimeout (now 300 ms) or give the learners less work "
          + "per round: 1 timed out; start more learners or lower minFitResults"), message);
      assertFalse(message.contains("model or data"), message);
    }
  }

  /** Cancels every download of the learner once its first message arrived: a broken transfer. */
  private static ClientInterceptor breakDownloads() {
    return new ClientInterceptor() {
      @Override
      public <Q, A> ClientCall<Q, A> interceptCall(
          MethodDescriptor<Q, A> method, CallOptions options, Channel next) {
        ClientCall<Q, A> call = next.newCall(method, options);
        if (!method.getFullMethodName()
            .equals(FederationGrpc.getDownloadParametersMethod().getFullMethodName())) {
          return call;
        }
        return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
          @Override
          public void start(Listener<A> listener, Metadata headers) {
            super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(
                listener) {
              @Override
              public void onMessage(A message) {
                super.onMessage(message);
                cancel("the learner's network broke", null);
              }
            }, headers);
          }
        };
      }
    };
  }

  @Test
  void brokenDownload_reportedByTheLearner_isADisconnection_notALearnerError() throws Exception {
    Parameters initial = Federations.randomParameters(74, true); // 2 chunks
    TrainingPlan plan = TrainingPlan.builder().rounds(1).minAvailableLearners(2)
        .roundTimeout(Duration.ofSeconds(60)).build();
    FedAvg strategy = FedAvg.builder()
        .fitConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .evaluateConfig(round -> Config.of(DeterministicTrainer.ROUND, round)).build();
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .build().start()) {
      Federations.startLearner("steady", aggregator.port(),
          new DeterministicTrainer("steady", initial));
      Federations.startLearner("broken", aggregator.port(),
          new DeterministicTrainer("broken", initial), b -> b.interceptor(breakDownloads()));

      long start = System.nanoTime();
      TrainingResult result = aggregator.train(plan, strategy);

      RoundSummary round = result.finalRound();
      assertEquals(1, round.fitFailed(), round.toString());
      LearnerFailure failure = round.failures().get(0);
      assertTrue(failure.reason().contains("the transfer broke off: CANCELLED"), failure.reason());
      assertEquals(LearnerFailure.Kind.DISCONNECTED, failure.kind(), failure.toString());
      assertTrue((System.nanoTime() - start) / 1e9 < 20, "reported at once, not at the timeout");
    }
  }

  static void awaitConnected(Aggregator aggregator, int count) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (aggregator.connectedLearners().size() < count && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertEquals(count, aggregator.connectedLearners().size(), "learners connected in time");
  }
}
