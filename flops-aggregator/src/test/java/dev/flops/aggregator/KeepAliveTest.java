package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * gRPC keepalive on both sides: during a fit longer than both sides' keepalive intervals, the
 * control stream carries nothing but pings, and it survives (no reconnection, no failure).
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class KeepAliveTest {

  @Test
  void fitLongerThanTheKeepAliveTimes_idleControlStreamSurvives() throws Exception {
    Parameters initial = Federations.randomParameters(51, false);
    AtomicInteger connects = new AtomicInteger();
    ClientInterceptor countConnects = new ClientInterceptor() {
      @Override
      public <Q, A> ClientCall<Q, A> interceptCall(
          MethodDescriptor<Q, A> method, CallOptions options, Channel next) {
        if (method.getFullMethodName()
            .equals(FederationGrpc.getConnectMethod().getFullMethodName())) {
          connects.incrementAndGet();
        }
        return next.newCall(method, options);
      }
    };
    DeterministicTrainer.Hooks longFit = new DeterministicTrainer.Hooks() {
      @Override
      public void beforeFit(String name, int round) throws InterruptedException {
        Thread.sleep(11_000); // past both sides' 10 s keepalive time
      }
    };
    TrainingPlan plan = TrainingPlan.builder().rounds(1).roundTimeout(Duration.ofSeconds(60))
        .build();
    FedAvg strategy = FedAvg.builder()
        .fitConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .evaluateConfig(round -> Config.of(DeterministicTrainer.ROUND, round)).build();
    try (LogCapture log = new LogCapture();
        Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
            .model(new ArrayModel(initial))
            .keepAlive(Duration.ofSeconds(10), Duration.ofSeconds(2)) // gRPC's shortest
            .build().start()) {
      Learner.builder().aggregator("127.0.0.1", aggregator.port()).name("patient")
          .trainer(new DeterministicTrainer("patient", initial, longFit))
          .keepAlive(Duration.ofSeconds(10), Duration.ofSeconds(2))
          .interceptor(countConnects)
          .build().runAsync();

      TrainingResult result = aggregator.train(plan, strategy);

      RoundSummary round = result.finalRound();
      assertEquals(1, round.fitSucceeded(), round.toString());
      assertEquals(0, round.fitFailed(), round.toString());
      assertEquals(1, round.evaluateSucceeded(), round.toString());
      assertEquals(1, connects.get(), "the learner never had to reconnect");
      assertFalse(log.text().contains("too_many_pings"), "the aggregator permits the pings");
      assertFalse(log.text().contains("disconnected"), "no disconnection was logged");
    }
  }
}
