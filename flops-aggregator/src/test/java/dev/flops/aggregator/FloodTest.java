package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.proto.codec.WireError;
import dev.flops.proto.v1.AggregatorMessage;
import dev.flops.proto.v1.FederationGrpc;
import dev.flops.proto.v1.LearnerMessage;
import io.grpc.Attributes;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A peer flooding the aggregator with streams and connections, over real gRPC on loopback: the
 * excess is refused with RESOURCE_EXHAUSTED naming the bound, idle connections are closed, the
 * aggregator stays up and legitimate learners still train. Attackers dial from other loopback
 * addresses (127.0.0.2, 127.0.0.3) than the learners (127.0.0.1), as they would from other hosts.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class FloodTest {
  // Set by the helper that builds the aggregator, for the test's train(plan, strategy) calls.
  private TrainingPlan plan;
  private FedAvg strategy;

  private final Parameters initial = Federations.randomParameters(9, false);
  private final List<ManagedChannel> attackerChannels = new ArrayList<>();
  private final BlockingQueue<Status> refusals = new LinkedBlockingQueue<>();

  @AfterEach
  void closeAttackers() throws InterruptedException {
    for (ManagedChannel channel : attackerChannels) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void streamFloodFromOneAddress_excessRefused_learnersStillTrain() throws Exception {
    try (Aggregator aggregator =
        aggregator(8, 64, Duration.ofMinutes(5), Duration.ofMinutes(1), 2)) {
      // 200 control streams from 127.0.0.2 over 10 connections, none saying anything.
      flood(aggregator.port(), "127.0.0.2", 10, 20);
      List<Status> refused = awaitRefusals(192);
      for (Status status : refused) {
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, status.getCode(), status.toString());
        assertEquals(Optional.of(WireError.BUSY), WireError.of(status.getCause()));
        assertTrue(status.getDescription().startsWith(
            "127.0.0.2 already has 8 calls open, the most one address may hold "
                + "(maxCallsPerAddress)"), status.getDescription());
      }
      assertEquals(0, refusals.size(), "exactly 192 refused, 8 held");

      // The attacker's 8 streams stay open; the learners on 127.0.0.1 are not affected.
      TrainingResult result = trainTwoLearners(aggregator);
      for (RoundSummary round : result.rounds()) {
        assertEquals(2, round.fitSucceeded(), round.toString());
        assertEquals(0, round.fitFailed(), round.toString());
      }
      assertEquals(0, refusals.size(), "the attacker's remaining streams were left alone");
    }
  }

  @Test
  void totalBound_refusesBeyondMaxCalls_andSlotsComeBackWhenStreamsEnd() throws Exception {
    try (Aggregator aggregator =
        aggregator(8, 10, Duration.ofMinutes(5), Duration.ofMinutes(1), 1)) {
      flood(aggregator.port(), "127.0.0.2", 1, 8);
      flood(aggregator.port(), "127.0.0.3", 1, 8);
      List<Status> refused = awaitRefusals(6);
      for (Status status : refused) {
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, status.getCode(), status.toString());
        assertEquals(Optional.of(WireError.BUSY), WireError.of(status.getCause()));
        assertEquals("the aggregator already has 10 calls open, the most it accepts (maxCalls); "
            + "retry later or raise the limit", status.getDescription());
      }
      // A learner arriving now is refused too, and retries with backoff...
      CompletableFuture<Void> learner = Federations.startLearner("late", aggregator.port(),
          FakeTrainer.adding(initial, 1f, 10));
      CompletableFuture<TrainingResult> training = CompletableFuture.supplyAsync(() -> {
        try {
          return aggregator.train(plan, strategy);
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
      });
      Thread.sleep(1000);
      assertTrue(!training.isDone(), "no learner could join while the bound was reached");
      // ...until the attackers' streams end and free their slots.
      closeAttackers();
      attackerChannels.clear();
      TrainingResult result = training.get(60, TimeUnit.SECONDS);
      aggregator.shutdownLearners();
      learner.get(10, TimeUnit.SECONDS);
      for (RoundSummary round : result.rounds()) {
        assertEquals(1, round.fitSucceeded(), round.toString());
      }
    }
  }

  @Test
  void silentStreams_closedAfterTheHandshakeTimeout_freeingTheirSlots() throws Exception {
    try (Aggregator aggregator =
        aggregator(8, 64, Duration.ofMinutes(5), Duration.ofSeconds(1), 2)) {
      long start = System.nanoTime();
      flood(aggregator.port(), "127.0.0.1", 1, 8);
      List<Status> closed = awaitRefusals(8);
      long waited = (System.nanoTime() - start) / 1_000_000;
      for (Status status : closed) {
        assertEquals(Status.Code.DEADLINE_EXCEEDED, status.getCode(), status.toString());
        assertEquals(Optional.of(WireError.SILENT_CALL), WireError.of(status.getCause()));
        assertEquals("no message within PT1S of opening the call; a learner says Hello (or sends "
            + "its upload header) at once", status.getDescription());
      }
      assertTrue(waited >= 900, "closed after the timeout, not before: " + waited + " ms");
      // The silent streams held every slot of 127.0.0.1; now freed, learners from there train.
      TrainingResult result = trainTwoLearners(aggregator);
      assertEquals(2, result.rounds().get(1).fitSucceeded());
    }
  }

  @Test
  void idleConnectionFlood_closedByTheAggregator_learnersStillTrain() throws Exception {
    try (Aggregator aggregator =
        aggregator(8, 64, Duration.ofSeconds(1), Duration.ofSeconds(1), 2)) {
      List<Socket> sockets = new ArrayList<>();
      try {
        for (int i = 0; i < 300; i++) {
          Socket socket = new Socket();
          socket.bind(new InetSocketAddress("127.0.0.2", 0));
          socket.connect(new InetSocketAddress("127.0.0.1", aggregator.port()), 5000);
          socket.setSoTimeout(15_000);
          sockets.add(socket);
        }
        long start = System.nanoTime();
        for (Socket socket : sockets) {
          assertTrue(closedByPeer(socket), "the aggregator closes an idle connection");
        }
        System.out.printf("300 idle connections closed by the aggregator within %d ms%n",
            (System.nanoTime() - start) / 1_000_000);
      } finally {
        for (Socket socket : sockets) {
          socket.close();
        }
      }
      TrainingResult result = trainTwoLearners(aggregator);
      assertEquals(2, result.rounds().get(1).fitSucceeded());
    }
  }

  private Aggregator aggregator(int perAddress, int total, Duration idle, Duration handshake,
      int learners) throws Exception {
    plan = TrainingPlan.builder().rounds(2).minAvailableLearners(learners)
        .learnerWait(Duration.ofSeconds(60)).build();
    strategy = FedAvg.builder().build();
    return Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .maxCallsPerAddress(perAddress)
        .maxCalls(total)
        .maxConnectionIdle(idle)
        .handshakeTimeout(handshake)
        .build()
        .start();
  }

  private TrainingResult trainTwoLearners(Aggregator aggregator) throws Exception {
    List<CompletableFuture<Void>> learners = List.of(
        Federations.startLearner("a", aggregator.port(), FakeTrainer.adding(initial, 1f, 10)),
        Federations.startLearner("b", aggregator.port(), FakeTrainer.adding(initial, 2f, 10)));
    TrainingResult result = aggregator.train(plan, strategy);
    aggregator.shutdownLearners();
    for (CompletableFuture<Void> learner : learners) {
      learner.get(10, TimeUnit.SECONDS);
    }
    return result;
  }

  /** Opens {@code streams} control streams on each of {@code connections} channels. */
  private void flood(int port, String from, int connections, int streams) {
    for (int c = 0; c < connections; c++) {
      ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", port)
          .usePlaintext()
          .localSocketPicker(new NettyChannelBuilder.LocalSocketPicker() {
            @Override
            public SocketAddress createSocketAddress(SocketAddress remote, Attributes attrs) {
              return new InetSocketAddress(from, 0);
            }
          })
          .build();
      attackerChannels.add(channel);
      for (int s = 0; s < streams; s++) {
        StreamObserver<LearnerMessage> ignored =
            FederationGrpc.newStub(channel).connect(new StreamObserver<AggregatorMessage>() {
              @Override
              public void onNext(AggregatorMessage message) {}

              @Override
              public void onError(Throwable t) {
                refusals.add(Status.fromThrowable(t).withCause(t)); // the trailers: its code
              }

              @Override
              public void onCompleted() {}
            });
      }
    }
  }

  private List<Status> awaitRefusals(int count) throws InterruptedException {
    List<Status> statuses = new ArrayList<>();
    while (statuses.size() < count) {
      Status status = refusals.poll(20, TimeUnit.SECONDS);
      if (status == null) {
        throw new AssertionError("only " + statuses.size() + " of " + count + " refusals came");
      }
      statuses.add(status);
    }
    Thread.sleep(500); // any refusal beyond the expected count would arrive by now
    return statuses;
  }

  private static boolean closedByPeer(Socket socket) throws Exception {
    InputStream in = socket.getInputStream();
    byte[] buffer = new byte[4096];
    try {
      while (true) {
        if (in.read(buffer) < 0) {
          return true;
        }
      }
    } catch (SocketTimeoutException e) {
      return false;
    } catch (java.net.SocketException e) {
      return true; // reset by the peer
    }
  }
}
