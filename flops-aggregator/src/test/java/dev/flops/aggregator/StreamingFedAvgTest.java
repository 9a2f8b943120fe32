package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.kernel.JavaAveraging;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.Tensor;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.FedAvg;
import dev.flops.proto.codec.EncodedParameters;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.v1.AggregatorMessage;
import dev.flops.proto.v1.Chunk;
import dev.flops.proto.v1.FederationGrpc;
import dev.flops.proto.v1.Hello;
import dev.flops.proto.v1.LearnerMessage;
import dev.flops.proto.v1.TaskKind;
import dev.flops.proto.v1.UploadHeader;
import dev.flops.proto.v1.UploadMessage;
import dev.flops.proto.v1.UploadReceipt;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Streaming FedAvg over real gRPC on loopback: updates are folded one by one as their uploads
 * complete, at most {@code maxInFlightUploads} are buffered at once, and an upload that breaks off
 * or fails validation leaves no trace in the aggregate.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class StreamingFedAvgTest {

  @Test
  void inFlightUploadsAndDownloads_neverExceedTheirBounds_howeverManyLearnersTakePart() throws Exception {
    int learners = 12;
    int bound = 2;
    Parameters initial = Federations.randomParameters(5, true);
    // Every learner finishes fitting before any uploads, so all 12 uploads start together, and
    // each fold is slowed down, so the slots stay taken long enough for the others to queue.
    CountDownLatch allFitted = new CountDownLatch(learners);
    TrainingPlan plan = TrainingPlan.builder().rounds(1).minAvailableLearners(learners)
        .minFitResults(learners).build();
    FedAvg strategy = FedAvg.builder().minFitLearners(learners).build();
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .averagingKernel(new SlowKernel(new JavaAveraging(), 40))
        .maxInFlightUploads(bound)
        .maxConcurrentDownloads(bound)
        .build()
        .start()) {
      double weighted = 0;
      long total = 0;
      for (int i = 0; i < learners; i++) {
        float offset = i + 1;
        long examples = 10L * (i + 1);
        weighted += offset * examples;
        total += examples;
        FakeTrainer trainer = new FakeTrainer(initial, examples, p -> {
          allFitted.countDown();
          await(allFitted);
          return FakeTrainer.add(p, offset);
        }, 1.0, 0.5);
        Federations.startLearner("learner-" + i, aggregator.port(), trainer);
      }

      TrainingResult result = aggregator.train(plan, strategy);

      assertEquals(learners, result.finalRound().fitSucceeded());
      assertEquals(bound, aggregator.uploadSlots().mostHeld(),
          "the updates buffered at once reach the bound and never pass it");
      assertTrue(aggregator.uploadSlots().mostWaiting() >= 1,
          "uploads queued for a slot, so the bound was exercised");
      assertEquals(0, aggregator.uploadSlots().held(), "every slot is given back");
      assertTrue(aggregator.downloadSlots().mostHeld() <= bound,
          "downloads streamed at once: " + aggregator.downloadSlots().mostHeld());
      assertEquals(0, aggregator.downloadSlots().held(), "every download slot is given back");
      assertClose(FakeTrainer.add(initial, (float) (weighted / total)), result.finalParameters(),
          1e-4);
    }
  }

  @Test
  void uploadThatBreaksOffMidway_leavesTheSumAsIfItNeverStarted() throws Exception {
    assertFaultyUploadLeavesNoTrace(Status.Code.CANCELLED, (upload, encoded) -> {
      upload.onNext(UploadMessage.newBuilder().setEnvelope(WireProtocol.envelope(1))
          .setChunk(Chunk.newBuilder().setIndex(0).setData(encoded.chunks().get(0))).build());
      ((ClientCallStreamObserver<UploadMessage>) upload).cancel("the learner crashed", null);
    });
  }

  @Test
  void uploadThatFailsValidationAtTheEnd_leavesTheSumAsIfItNeverStarted() throws Exception {
    assertFaultyUploadLeavesNoTrace(Status.Code.INVALID_ARGUMENT, (upload, encoded) -> {
      // Every chunk decodes into the slot; only the checksum at the end finds the flipped byte.
      for (int i = 0; i < encoded.chunks().size(); i++) {
        byte[] data = encoded.chunks().get(i).toByteArray();
        if (i == encoded.chunks().size() - 1) {
          data[data.length - 1] ^= 0x40;
        }
        upload.onNext(UploadMessage.newBuilder().setEnvelope(WireProtocol.envelope(1))
            .setChunk(Chunk.newBuilder().setIndex(i)
                .setData(com.google.protobuf.ByteString.copyFrom(data))).build());
      }
      upload.onCompleted();
    });
  }

  /**
   * Runs one round with two well-behaved learners and a hand-driven one whose upload {@code fault}
   * spoils after its header, then the same round with the two alone: the global models must be
   * identical to the bit. The weights are powers of two, so every product is exact and the result
   * does not depend on which update arrives first.
   */
  private void assertFaultyUploadLeavesNoTrace(Status.Code faultyUploadEnds,
      BiConsumer<StreamObserver<UploadMessage>, EncodedParameters> fault) throws Exception {
    Parameters initial = Federations.randomParameters(9, true);
    Parameters withFault = runRound(initial, faultyUploadEnds, fault);
    Parameters without = runRound(initial, null, fault);
    for (Tensor expected : without) {
      assertArrayEquals(expected.toFloatArray(), withFault.get(expected.name()).toFloatArray(),
          expected.name());
    }
  }

  private Parameters runRound(Parameters initial, Status.Code faultyUploadEnds,
      BiConsumer<StreamObserver<UploadMessage>, EncodedParameters> fault) throws Exception {
    boolean withFaultyLearner = faultyUploadEnds != null;
    int learners = withFaultyLearner ? 3 : 2;
    TrainingPlan plan = TrainingPlan.builder().rounds(1).minAvailableLearners(learners)
        .minFitResults(2).minEvaluateResults(1).build();
    FedAvg strategy = FedAvg.builder().minFitLearners(2).minEvaluateLearners(1).build();
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .maxInFlightUploads(1)
        .build()
        .start()) {
      ManagedChannel channel =
          NettyChannelBuilder.forAddress("127.0.0.1", aggregator.port()).usePlaintext().build();
      try {
        CompletableFuture<TrainingResult> training = CompletableFuture.supplyAsync(() -> {
          try {
            return aggregator.train(plan, strategy);
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
        Federations.startLearner("two", aggregator.port(), FakeTrainer.adding(initial, 2f, 2));
        Federations.startLearner("four", aggregator.port(), FakeTrainer.adding(initial, -3f, 4));
        Status faultStatus = null;
        if (withFaultyLearner) {
          faultStatus = faultyLearner(channel, initial, fault);
        }
        TrainingResult result = training.get(60, TimeUnit.SECONDS);
        RoundSummary round = result.finalRound();
        assertEquals(2, round.fitSucceeded());
        if (withFaultyLearner) {
          assertEquals(1, round.fitFailed(), "the spoilt upload counts as a failure");
          assertEquals(faultyUploadEnds, faultStatus.getCode(), faultStatus.toString());
        }
        assertEquals(0, aggregator.uploadSlots().held(), "every slot is given back");
        return result.finalParameters();
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * Connects by hand, waits for its fit task, then starts a valid upload and lets {@code fault}
   * spoil it. Returns the status the upload ended with, after leaving the federation, so that
   * the round's evaluation does not wait for it.
   */
  private static Status faultyLearner(ManagedChannel channel, Parameters initial,
      BiConsumer<StreamObserver<UploadMessage>, EncodedParameters> fault) throws Exception {
    RawSession control = new RawSession(channel);
    control.send(LearnerMessage.newBuilder().setEnvelope(WireProtocol.envelope(0))
        .setHello(Hello.newBuilder().setLearnerName("faulty")).build());
    String learnerId = control.next(30).getWelcome().getLearnerId();
    AggregatorMessage task = control.next(30);
    assertEquals(TaskKind.FIT, task.getTask().getKind());

    EncodedParameters encoded = EncodedParameters.encode(FakeTrainer.add(initial, 1000f));
    assertTrue(encoded.chunks().size() >= 2, "the update spans several chunks");
    CompletableFuture<Status> outcome = new CompletableFuture<>();
    StreamObserver<UploadMessage> upload = FederationGrpc.newStub(channel).uploadUpdate(
        new ClientResponseObserver<UploadMessage, UploadReceipt>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<UploadMessage> requestStream) {}

          @Override
          public void onNext(UploadReceipt receipt) {
            outcome.complete(Status.OK);
          }

          @Override
          public void onError(Throwable t) {
            outcome.complete(Status.fromThrowable(t));
          }

          @Override
          public void onCompleted() {}
        });
    upload.onNext(UploadMessage.newBuilder()
        .setEnvelope(WireProtocol.envelope(task.getEnvelope().getRound()))
        .setHeader(UploadHeader.newBuilder()
            .setLearnerId(learnerId)
            .setTaskId(task.getTask().getTaskId())
            .setCapability(task.getTask().getCapability())
            .setNumExamples(1024)
            .setManifest(encoded.manifest()))
        .build());
    fault.accept(upload, encoded);
    Status status = outcome.get(30, TimeUnit.SECONDS);
    control.close();
    return status;
  }

  private static void assertClose(Parameters expected, Parameters actual, double tolerance) {
    for (Tensor tensor : expected) {
      float[] want = tensor.toFloatArray();
      float[] got = actual.get(tensor.name()).toFloatArray();
      assertEquals(want.length, got.length, tensor.name());
      for (int i = 0; i < want.length; i++) {
        assertEquals(want[i], got[i], tolerance, tensor.name() + "[" + i + "]");
      }
    }
  }

  private static void await(CountDownLatch latch) {
    try {
      if (!latch.await(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("not every learner fitted within 30 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** A kernel whose every fold takes at least {@code millis}, to hold slots taken for a while. */
  private record SlowKernel(AveragingKernel delegate, long millis) implements AveragingKernel {
    @Override
    public WeightedSum begin(Parameters template) {
      WeightedSum sum = delegate.begin(template);
      return new WeightedSum() {
        @Override
        public void add(Parameters parameters, double weight) {
          try {
            Thread.sleep(millis);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          sum.add(parameters, weight);
        }

        @Override
        public int count() {
          return sum.count();
        }

        @Override
        public double totalWeight() {
          return sum.totalWeight();
        }

        @Override
        public Parameters mean() {
          return sum.mean();
        }

        @Override
        public void close() {
          sum.close();
        }
      };
    }
  }
}
