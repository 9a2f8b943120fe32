package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Config;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.learner.Learner;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.v1.AggregatorMessage;
import dev.flops.proto.v1.FederationGrpc;
import dev.flops.proto.v1.Hello;
import dev.flops.proto.v1.LearnerMessage;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.MethodDescriptor;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Keepalive settings agreed between the two machines: the aggregator tells a joining learner its
 * permitKeepAliveTime and admits it only on a connection that pings no more often; the learner
 * reconnects once with its keepalive raised to the permit. A client that keeps pinging too often
 * is closed by gRPC with too_many_pings, and the aggregator names the learner and both settings.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KeepAliveNegotiationTest {
  // Set by the helper that builds the aggregator, for the test's train(plan, strategy) calls.
  private TrainingPlan plan;
  private FedAvg strategy;

  private static final Duration PERMIT = Duration.ofSeconds(60);

  private Aggregator aggregator(Parameters initial) throws Exception {
    plan = TrainingPlan.builder().rounds(1).roundTimeout(Duration.ofSeconds(90))
        .build();
    strategy = FedAvg.builder()
        .fitConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .evaluateConfig(round -> Config.of(DeterministicTrainer.ROUND, round)).build();
    return Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .permitKeepAliveTime(PERMIT)
        .build().start();
  }

  private static ClientInterceptor counting(AtomicInteger connects) {
    return new ClientInterceptor() {
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
  }

  private static LearnerMessage hello(String name, long keepAliveMillis) {
    return LearnerMessage.newBuilder().setEnvelope(WireProtocol.envelope(0))
        .setHello(Hello.newBuilder().setLearnerName(name).setKeepaliveTimeMs(keepAliveMillis))
        .build();
  }

  @Test
  void welcomeCarriesThePermit_aLearnerPingingMoreOftenIsNotAdmitted() throws Exception {
    Parameters initial = Federations.randomParameters(91, false);
    try (Aggregator aggregator = aggregator(initial)) {
      ManagedChannel channel = ManagedChannelBuilder
          .forAddress("127.0.0.1", aggregator.port()).usePlaintext().build();
      try {
        RawSession eager = new RawSession(channel);
        eager.send(hello("eager", 10_000));
        AggregatorMessage welcome = eager.next();
        assertEquals(PERMIT.toMillis(), welcome.getWelcome().getPermitKeepaliveTimeMs());
        assertTrue(aggregator.connectedLearners().isEmpty(), "10 s pings: not admitted");

        RawSession patient = new RawSession(channel);
        patient.send(hello("patient", PERMIT.toMillis()));
        assertEquals(PERMIT.toMillis(), patient.next().getWelcome().getPermitKeepaliveTimeMs());
        RefusalPolicyTest.awaitConnected(aggregator, 1);
      } finally {
        channel.shutdownNow();
      }
    }
  }

  @Test
  void learnerWithA10sKeepAlive_reconnectsOnceWithThePermit_beforeAnyTask() throws Exception {
    Parameters initial = Federations.randomParameters(92, false);
    AtomicInteger connects = new AtomicInteger();
    try (LogCapture log = new LogCapture(); Aggregator aggregator = aggregator(initial)) {
      Learner.builder().aggregator("127.0.0.1", aggregator.port()).name("eager")
          .trainer(new DeterministicTrainer("eager", initial))
          .keepAlive(Duration.ofSeconds(10), Duration.ofSeconds(2))
          .interceptor(counting(connects))
          .build().runAsync();

      TrainingResult result = aggregator.train(plan, strategy);

      RoundSummary round = result.finalRound();
      assertEquals(1, round.fitSucceeded(), round.toString());
      assertEquals(0, round.fitFailed(), "no task went over the connection gRPC would close");
      assertEquals(2, connects.get(), "one reconnection, with the adapted keepalive");
      assertTrue(log.text().contains("learner learner-1 (eager) pings every 10000 ms but this "
          + "aggregator permits one ping per 60000 ms (permitKeepAliveTime): not admitted on "
          + "this connection"), log.text());
      assertTrue(log.text().contains("learner eager: the aggregator permits one keepalive ping per "
          + "60000 ms but this learner pings every 10000 ms; reconnecting with a keepalive time "
          + "of 60000 ms instead of 10000 ms"), log.text());
    }
  }

  /**
   * The real thing, hence slow (about 35 s; gRPC floors a client's keepalive at 10 s and closes a
   * connection at its third ping within the permit): a learner with a 10 s keepalive fits for
   * 32 s against a 60 s permit and its task survives, while a client that ignores the Welcome and
   * keeps its 10 s pings is closed with too_many_pings, which the aggregator logs by name.
   */
  @Test
  void fitLongerThanThreePings_adaptedLearnerSurvives_stubbornClientIsNamedWithTheSettings()
      throws Exception {
    Parameters initial = Federations.randomParameters(93, false);
    AtomicInteger connects = new AtomicInteger();
    DeterministicTrainer.Hooks longFit = new DeterministicTrainer.Hooks() {
      @Override
      public void beforeFit(String name, int round) throws InterruptedException {
        Thread.sleep(32_000); // past the third 10 s ping, when gRPC sends too_many_pings
      }
    };
    try (LogCapture log = new LogCapture(); Aggregator aggregator = aggregator(initial)) {
      ManagedChannel stubbornChannel = ManagedChannelBuilder
          .forAddress("127.0.0.1", aggregator.port()).usePlaintext()
          .keepAliveTime(10, TimeUnit.SECONDS).keepAliveTimeout(5, TimeUnit.SECONDS).build();
      try {
        RawSession stubborn = new RawSession(stubbornChannel);
        stubborn.send(hello("stubborn", 10_000));
        stubborn.next(); // the Welcome, ignored
        Learner.builder().aggregator("127.0.0.1", aggregator.port()).name("patient")
            .trainer(new DeterministicTrainer("patient", initial, longFit))
            .keepAlive(Duration.ofSeconds(10), Duration.ofSeconds(2))
            .interceptor(counting(connects))
            .build().runAsync();

        TrainingResult result = aggregator.train(plan, strategy);

        RoundSummary round = result.finalRound();
        assertEquals(1, round.fitSucceeded(), round.toString());
        assertEquals(0, round.fitFailed(), round.toString());
        assertEquals(2, connects.get(), "no reconnection after the adapted one");
        String expected = "learner learner-1 (stubborn) disconnected (CANCELLED): it pings every "
            + "10000 ms but this aggregator permits one ping per 60000 ms, so gRPC most likely "
            + "closed its connection with too_many_pings; raise the learner's keepAlive time to "
            + "at least 60000 ms, or lower the aggregator's permitKeepAliveTime to 10000 ms";
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (!log.text().contains(expected) && System.nanoTime() < deadline) {
          Thread.sleep(100);
        }
        assertTrue(log.text().contains(expected), log.text());
      } finally {
        stubbornChannel.shutdownNow();
      }
    }
  }
}
