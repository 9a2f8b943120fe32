package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.kernel.JavaAveraging;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.Tensor;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.proto.v1.AggregatorMessage;
import dev.flops.proto.v1.FederationGrpc;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Transfers refused by the aggregator's call bounds, over real gRPC on loopback with real
 * learners: a refused download or upload is retried with backoff within the task's time, so no
 * task waits for the round timeout, and learners sharing one address (127.0.0.1 here; a host or a
 * NAT in real life) are not refused for holding a transfer besides their control stream.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RefusedTransferTest {
  /** A 4-value model: every round is pure protocol. */
  private final Parameters initial =
      Parameters.of(Tensor.ofFloats("w", new long[] {4}, new float[] {1, 2, 3, 4}));
  /** Far above what a round of this model takes: a task that waited for it shows in the time. */
  private static final Duration ROUND_TIMEOUT = Duration.ofSeconds(30);

  @Test
  void maxCallsPerAddress4_threeLearners_everyTaskSucceedsWithoutWaitingForTheTimeout()
      throws Exception {
    // 3 control streams and, in a round, 3 downloads from one address: 6 calls over a bound of 4
    // made two downloads wait for the 30 s round timeout. Each control stream now entitles its
    // address to one transfer.
    long start = System.nanoTime();
    // Inline transfers off: this 16-byte model would otherwise make no transfer call at all.
    TrainingResult result = train(3, 3, builder -> builder.maxCallsPerAddress(4).maxInlineBytes(0),
        port -> {});
    long seconds = (System.nanoTime() - start) / 1_000_000_000;
    assertEveryTaskSucceeded(result, 3, 3);
    assertTrue(seconds < 10, "3 rounds took " + seconds + " s; the round timeout is 30 s");
  }

  @Test
  void totalBoundRefusesTransfers_learnersRetryWithBackoff_everyTaskSucceeds() throws Exception {
    // maxCalls(4) with 3 learners: their 3 control streams leave one call for transfers. A silent
    // stream opened first holds that call until the handshake timeout (1 s) closes it, so every
    // download of round 1 is refused with RESOURCE_EXHAUSTED for a while and must be retried.
    try (LogCapture log = new LogCapture()) {
      long start = System.nanoTime();
      TrainingResult result = train(3, 3,
          builder -> builder.maxCalls(4).handshakeTimeout(Duration.ofSeconds(1))
              .maxInlineBytes(0), // the transfer calls are what is bounded here
          this::holdOneCall);
      long seconds = (System.nanoTime() - start) / 1_000_000_000;
      assertEveryTaskSucceeded(result, 3, 3);
      assertTrue(seconds < 10, "3 rounds took " + seconds + " s; the round timeout is 30 s");
      String text = log.text();
      assertTrue(text.contains("refused DownloadParameters: the aggregator already has 4 calls "
          + "open, the most it accepts (maxCalls)"), "the bound did refuse transfers:\n" + text);
      assertTrue(text.contains("the aggregator refused the download for now (RESOURCE_EXHAUSTED: "
          + "the aggregator already has 4 calls open"), "the learners retried:\n" + text);
    }
  }

  @Test
  void twoHundredLearnersOnOneAddress_defaultLimits_completeTheirRounds() throws Exception {
    // 200 learners on 127.0.0.1 hold 200 control streams and, while a round runs, up to 200
    // transfers: 400 calls against the default per-address bound of 256. In-process Learner
    // threads, each with its own channel and connection, as 200 processes behind a NAT would be.
    long start = System.nanoTime();
    TrainingResult result = train(200, 2, builder -> builder, port -> {});
    long seconds = (System.nanoTime() - start) / 1_000_000_000;
    assertEveryTaskSucceeded(result, 200, 2);
    System.out.printf("200 learners on one address: 2 rounds in %d s%n", seconds);
  }

  /** Opens a control stream that never says Hello, and lets it reach the aggregator. */
  private void holdOneCall(int port) {
    channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    FederationGrpc.newStub(channel)
        .connect(new StreamObserver<AggregatorMessage>() {
          @Override
          public void onNext(AggregatorMessage message) {}

          @Override
          public void onError(Throwable t) {}

          @Override
          public void onCompleted() {}
        });
    try {
      Thread.sleep(300);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private ManagedChannel channel;

  @AfterEach
  void closeChannel() throws InterruptedException {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private TrainingResult train(int learners, int rounds, UnaryOperator<Aggregator.Builder> limits,
      IntConsumer beforeLearners) throws Exception {
    TrainingPlan plan = TrainingPlan.builder().rounds(rounds).minAvailableLearners(learners)
        .minFitResults(learners).minEvaluateResults(learners).roundTimeout(ROUND_TIMEOUT)
        .learnerWait(Duration.ofSeconds(60)).build();
    FedAvg strategy = FedAvg.builder().minFitLearners(learners).minEvaluateLearners(learners)
        .build();
    try (Aggregator aggregator = limits.apply(Aggregator.builder()
            .host("127.0.0.1").port(0)
            .model(new ArrayModel(initial))
            .averagingKernel(new JavaAveraging()))
        .build()
        .start()) {
      beforeLearners.accept(aggregator.port());
      List<CompletableFuture<Void>> running = new ArrayList<>();
      for (int i = 0; i < learners; i++) {
        running.add(Federations.startLearner("learner-" + i, aggregator.port(),
            FakeTrainer.adding(initial, i, 10)));
      }
      TrainingResult result = aggregator.train(plan, strategy);
      aggregator.shutdownLearners();
      for (CompletableFuture<Void> learner : running) {
        learner.get(30, TimeUnit.SECONDS);
      }
      return result;
    }
  }

  private static void assertEveryTaskSucceeded(TrainingResult result, int learners, int rounds) {
    assertEquals(rounds, result.rounds().size(), result.toString());
    for (RoundSummary round : result.rounds()) {
      assertEquals(learners, round.fitSucceeded(), round.toString());
      assertEquals(0, round.fitFailed(), round.toString());
      assertEquals(learners, round.evaluateSucceeded(), round.toString());
      assertEquals(0, round.evaluateFailed(), round.toString());
    }
  }
}
