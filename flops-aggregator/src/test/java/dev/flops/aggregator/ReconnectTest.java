package dev.flops.aggregator;

import static dev.flops.aggregator.AggregatorTest.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Config;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.learner.Learner;
import dev.flops.proto.v1.FederationGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.MethodDescriptor;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A learner whose connection breaks reconnects (with backoff and jitter) under the id it had: the
 * aggregator replaces its old session instead of counting it twice, and the learner takes part in
 * the following rounds.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class ReconnectTest {

  /** Counts the control streams a learner opens: one per (re)connection. */
  private static final class ConnectCounter implements ClientInterceptor {
    final AtomicInteger connects = new AtomicInteger();

    @Override
    public <Q, A> ClientCall<Q, A> interceptCall(
        MethodDescriptor<Q, A> method, CallOptions options, Channel next) {
      if (method.getFullMethodName().equals(FederationGrpc.getConnectMethod().getFullMethodName())) {
        connects.incrementAndGet();
      }
      return next.newCall(method, options);
    }
  }

  private static Learner learner(String name, int port, DeterministicTrainer trainer,
      ClientInterceptor interceptor) {
    return Learner.builder().aggregator("127.0.0.1", port).name(name).trainer(trainer)
        .backoff(Duration.ofMillis(50), Duration.ofMillis(500))
        .connectTimeout(Duration.ofSeconds(30))
        .interceptor(interceptor)
        .build();
  }

  private static FedAvg.Builder strategy() {
    return FedAvg.builder()
        .fitConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .evaluateConfig(round -> Config.of(DeterministicTrainer.ROUND, round));
  }

  private static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(20);
    }
  }

  @Test
  void halfOpenConnection_learnerReconnectsUnderItsId_oldSessionReplacedNotDuplicated()
      throws Exception {
    Parameters initial = Federations.randomParameters(31, false);
    ConnectCounter counter = new ConnectCounter();
    try (LogCapture log = new LogCapture();
        Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
            .model(new ArrayModel(initial))
            .build().start();
        CuttableProxy proxy = new CuttableProxy(aggregator.port())) {
      Federations.startLearner("steady", aggregator.port(),
          new DeterministicTrainer("steady", initial));
      Learner flaky =
          learner("flaky", proxy.port(), new DeterministicTrainer("flaky", initial), counter);
      CompletableFuture<Void> flakyRun = flaky.runAsync();
      await(() -> aggregator.connectedLearners().size() == 2 && flaky.learnerId().isPresent(),
          "both learners joined");
      String id = flaky.learnerId().orElseThrow();

      // The learner's side is reset; the aggregator's side stays open: it notices nothing.
      proxy.cutLearnerSide();
      await(() -> log.text().contains("reconnected, replacing its previous connection"),
          "the learner reconnected");

      assertEquals(2, counter.connects.get());
      assertEquals(id, flaky.learnerId().orElseThrow(), "the learner kept its id");
      assertEquals(2, aggregator.connectedLearners().size(), aggregator.connectedLearners()
          + ": one membership per learner");
      assertTrue(aggregator.connectedLearners().contains(id));

      TrainingResult result = aggregator.train(TrainingPlan.builder().rounds(2)
          .minAvailableLearners(2).minFitResults(2).build(), strategy().minFitLearners(2).build());
      aggregator.shutdownLearners();

      for (RoundSummary round : result.rounds()) {
        assertEquals(2, round.fitSucceeded(), round.toString());
        assertEquals(0, round.fitFailed(), round.toString());
      }
      assertClose(DeterministicTrainer.expected(initial, List.of(
          List.of("steady", "flaky"), List.of("steady", "flaky"))), result.finalParameters(), 1e-5);
      flakyRun.get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void connectionResetMidRound_taskFailsAtOnce_learnerRejoinsForTheNextRounds() throws Exception {
    Parameters initial = Federations.randomParameters(32, false);
    ConnectCounter counter = new ConnectCounter();
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
            .model(new ArrayModel(initial))
            .build().start();
        CuttableProxy proxy = new CuttableProxy(aggregator.port())) {
      DeterministicTrainer.Hooks cutInRound1 = new DeterministicTrainer.Hooks() {
        @Override
        public void beforeFit(String name, int round) {
          if (round == 1) {
            proxy.cut(); // the connection dies while this learner trains
          }
        }
      };
      Federations.startLearner("steady", aggregator.port(),
          new DeterministicTrainer("steady", initial));
      Learner flaky = learner("flaky", proxy.port(),
          new DeterministicTrainer("flaky", initial, cutInRound1), counter);
      CompletableFuture<Void> flakyRun = flaky.runAsync();
      await(() -> aggregator.connectedLearners().size() == 2 && flaky.learnerId().isPresent(),
          "both learners joined");
      String id = flaky.learnerId().orElseThrow();

      TrainingResult result = aggregator.train(TrainingPlan.builder().rounds(3)
          .minAvailableLearners(2).roundTimeout(Duration.ofSeconds(60)).build(),
          strategy().build());
      aggregator.shutdownLearners();

      RoundSummary first = result.rounds().get(0);
      assertEquals(1, first.fitSucceeded(), first.toString());
      assertEquals(1, first.fitFailed(), first.toString());
      assertEquals(id, first.failures().get(0).learnerId());
      assertTrue(first.duration().toSeconds() < 20,
          "failed on the broken stream, not at the 60 s timeout: " + first.duration());
      for (RoundSummary later : result.rounds().subList(1, 3)) {
        assertEquals(2, later.fitSucceeded(), "the learner is back: " + later);
      }
      assertEquals(id, flaky.learnerId().orElseThrow(), "it came back under its id");
      assertTrue(counter.connects.get() >= 2, "it reconnected: " + counter.connects.get());
      assertClose(DeterministicTrainer.expected(initial, List.of(List.of("steady"),
          List.of("steady", "flaky"), List.of("steady", "flaky"))), result.finalParameters(), 1e-5);
      flakyRun.get(10, TimeUnit.SECONDS);
    }
  }
}
