package dev.flops.learner.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.proto.codec.EncodedParameters;
import dev.flops.proto.codec.InlineParameters;
import dev.flops.proto.codec.ParameterDecoder;
import dev.flops.proto.codec.WireError;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.v1.AggregatorMessage;
import dev.flops.proto.v1.DownloadRequest;
import dev.flops.proto.v1.FederationGrpc;
import dev.flops.proto.v1.InlineTensors;
import dev.flops.proto.v1.LearnerMessage;
import dev.flops.proto.v1.Manifest;
import dev.flops.proto.v1.ParameterMessage;
import dev.flops.proto.v1.Shutdown;
import dev.flops.proto.v1.Task;
import dev.flops.proto.v1.TaskKind;
import dev.flops.proto.v1.UploadMessage;
import dev.flops.proto.v1.UploadReceipt;
import dev.flops.proto.v1.Welcome;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * How a learner's session handles a refused download or upload, over real gRPC on loopback.
 *
 * <p>The aggregator here is scripted (a fake): the real one refuses transfers only under load or
 * for a foreign session, which cannot be produced on cue, and these tests need each refusal code
 * in a set order. The real aggregator's bounds are exercised with real learners in
 * flops-aggregator's RefusedTransferTest.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TransferRetryTest {
  private static final Parameters GLOBAL =
      Parameters.of(Tensor.ofFloats("w", new long[] {4}, new float[] {1, 2, 3, 4}));

  private final ScriptedAggregator aggregator = new ScriptedAggregator();
  private Server server;
  private ManagedChannel channel;

  @AfterEach
  void close() throws InterruptedException {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void transientRefusals_retriedWithBackoff_thenTheTaskSucceeds() throws Exception {
    aggregator.downloadRefusals.add(uncoded(Status.RESOURCE_EXHAUSTED.withDescription(
        "127.0.0.1 already has 4 calls open, the most one address may hold (maxCallsPerAddress)")));
    aggregator.downloadRefusals.add(uncoded(Status.UNAVAILABLE.withDescription("try again")));
    aggregator.downloadRefusals.add(WireError.BUSY.exception("maxCalls")); // a coded one, too
    aggregator.uploadRefusals.add(
        uncoded(Status.RESOURCE_EXHAUSTED.withDescription("maxCalls")));
    CompletableFuture<ControlSession.End> session = run();

    UploadReceipt receipt = aggregator.receipts.poll(20, TimeUnit.SECONDS);
    assertNotNull(receipt, "the update arrived in the end");
    assertEquals(4, aggregator.downloads.get(), "three refused downloads, then the real one");
    assertEquals(2, aggregator.uploads.get(), "one refused upload, then the real one");
    assertTrue(aggregator.failures.isEmpty(), "no failure reported: " + aggregator.failures);

    aggregator.shutdown();
    assertEquals(ControlSession.End.SHUTDOWN, session.get(10, TimeUnit.SECONDS));
  }

  @Test
  void permanentRefusal_reportedAtOnceOnTheControlStream_withTheRealStatus() throws Exception {
    aggregator.downloadRefusals.add(uncoded(Status.PERMISSION_DENIED.withDescription(
        "task 'r1-fit-1' belongs to another learner")));
    long start = System.nanoTime();
    CompletableFuture<ControlSession.End> session = run();

    String failure = aggregator.failures.poll(10, TimeUnit.SECONDS);
    long millis = (System.nanoTime() - start) / 1_000_000;
    assertEquals("TRANSFER_REFUSED the aggregator refused the download: PERMISSION_DENIED: task "
        + "'r1-fit-1' belongs to another learner", failure);
    assertTrue(millis < 5000, "reported after " + millis + " ms");
    assertEquals(1, aggregator.downloads.get(), "a permanent refusal is not retried");
    assertNull(aggregator.receipts.poll(200, TimeUnit.MILLISECONDS), "nothing was uploaded");

    aggregator.shutdown();
    assertEquals(ControlSession.End.SHUTDOWN, session.get(10, TimeUnit.SECONDS));
  }

  @Test
  void failureOnceTheDownloadGotGoing_notRetried_reportedAtOnceAsBroken() throws Exception {
    // Data came already: a retry would fetch the model again for the same end (UNAVAILABLE here
    // is a connection that broke, not a call that could not start).
    aggregator.midDownloadFailure = Status.UNAVAILABLE.withDescription("io exception");
    CompletableFuture<ControlSession.End> session = run();

    String failure = aggregator.failures.poll(10, TimeUnit.SECONDS);
    assertEquals("TRANSFER_BROKEN the transfer broke off: UNAVAILABLE: io exception", failure);
    assertEquals(1, aggregator.downloads.get(), "not retried");

    aggregator.shutdown();
    assertEquals(ControlSession.End.SHUTDOWN, session.get(10, TimeUnit.SECONDS));
  }

  @Test
  void refusalThatOutlivesTheTask_givenUpWhenTheAggregatorMovesOn() throws Exception {
    for (int i = 0; i < 1000; i++) {
      aggregator.downloadRefusals.add(
          uncoded(Status.RESOURCE_EXHAUSTED.withDescription("maxCalls")));
    }
    CompletableFuture<ControlSession.End> session = run();
    while (aggregator.downloads.get() < 3) {
      Thread.sleep(10);
    }
    // The round timed out on the aggregator, which tells the learner what comes next: here, the
    // end. The session must take that message at once instead of retrying on.
    long start = System.nanoTime();
    aggregator.shutdown();
    assertEquals(ControlSession.End.SHUTDOWN, session.get(10, TimeUnit.SECONDS));
    long millis = (System.nanoTime() - start) / 1_000_000;
    assertTrue(millis < 1000, "the session ended " + millis + " ms after the shutdown");
    int attempts = aggregator.downloads.get();
    Thread.sleep(300);
    assertEquals(attempts, aggregator.downloads.get(), "no retry after the task was given up");
    assertTrue(aggregator.failures.isEmpty(), "no failure reported: " + aggregator.failures);
  }

  /** A refusal as an aggregator from before codes sends it: the status alone. */
  private static StatusRuntimeException uncoded(Status status) {
    return status.asRuntimeException();
  }

  @Test
  void codedRefusalsDecide_busyRetried_limitExceededReportedAtOnce_bothResourceExhausted()
      throws Exception {
    aggregator.downloadRefusals.add(WireError.BUSY.exception("maxCalls"));
    // The same status as BUSY, but no bound that frees up: without the code it was retried
    // until the aggregator moved on.
    aggregator.uploadRefusals.add(WireError.LIMIT_EXCEEDED.exception(
        "the update's manifest declares 16 bytes but at most 8 are accepted (maxUpdateBytes)"));
    CompletableFuture<ControlSession.End> session = run();

    String failure = aggregator.failures.poll(10, TimeUnit.SECONDS);
    assertEquals("TRANSFER_REFUSED the aggregator refused the upload: RESOURCE_EXHAUSTED: the "
        + "update's manifest declares 16 bytes but at most 8 are accepted (maxUpdateBytes)",
        failure);
    assertEquals(2, aggregator.downloads.get(), "the busy download was retried");
    assertEquals(1, aggregator.uploads.get(), "the refusal of the update itself was not");

    aggregator.shutdown();
    assertEquals(ControlSession.End.SHUTDOWN, session.get(10, TimeUnit.SECONDS));
  }

  @Test
  void aggregatorFault_reportedAtOnceAsRefused_notAsABrokenTransfer() throws Exception {
    aggregator.uploadRefusals.add(WireError.AGGREGATOR_FAULT.exception(
        "the aggregator failed while folding the update (fault 0badc0de)"));
    CompletableFuture<ControlSession.End> session = run();

    String failure = aggregator.failures.poll(10, TimeUnit.SECONDS);
    assertEquals("TRANSFER_REFUSED the aggregator refused the upload: INTERNAL: the aggregator "
        + "failed while folding the update (fault 0badc0de)", failure);
    assertEquals(1, aggregator.uploads.get(), "a fault is not retried into a time-out");

    aggregator.shutdown();
    assertEquals(ControlSession.End.SHUTDOWN, session.get(10, TimeUnit.SECONDS));
  }

  @Test
  void corruptDownload_reportedAsABrokenTransferWithItsCode_notAsTheLearnersCode()
      throws Exception {
    aggregator.corruptDownload = true;
    CompletableFuture<ControlSession.End> session = run();

    String failure = aggregator.failures.poll(10, TimeUnit.SECONDS);
    assertTrue(failure.startsWith("TRANSFER_BROKEN the download broke the protocol (CHECKSUM): "
        + "checksum mismatch"), failure);
    assertEquals(1, aggregator.downloads.get(), "not retried");

    aggregator.shutdown();
    assertEquals(ControlSession.End.SHUTDOWN, session.get(10, TimeUnit.SECONDS));
  }

  @Test
  void inlineTask_noTransferCall_updateInlineOnTheControlStream() throws Exception {
    aggregator.inline = true;
    CompletableFuture<ControlSession.End> session = run();

    LearnerMessage update = aggregator.inlineUpdates.poll(10, TimeUnit.SECONDS);
    assertNotNull(update, "the update came inline");
    assertEquals(InlineParameters.MAX_INLINE_BYTES, aggregator.offeredInline,
        "the Hello offered one chunk's worth");
    assertEquals("r1-fit-1", update.getInlineUpdate().getHeader().getTaskId());
    Parameters sent = InlineParameters.decode(update.getInlineUpdate().getHeader().getManifest(),
        update.getInlineUpdate().getData(), ParameterDecoder.HEAP);
    assertEquals(Parameters.of(Tensor.ofFloats("w", new long[] {4}, new float[] {2, 3, 4, 5})),
        sent, "the global parameters (taken from the task) plus one");
    assertEquals(0, aggregator.downloads.get());
    assertEquals(0, aggregator.uploads.get());

    aggregator.shutdown();
    assertEquals(ControlSession.End.SHUTDOWN, session.get(10, TimeUnit.SECONDS));
  }

  @Test
  void corruptInlineParameters_reportedAsABrokenTransferWithItsCode() throws Exception {
    aggregator.inline = true;
    aggregator.corruptDownload = true;
    CompletableFuture<ControlSession.End> session = run();

    String failure = aggregator.failures.poll(10, TimeUnit.SECONDS);
    assertTrue(failure.startsWith("TRANSFER_BROKEN the inline download broke the protocol "
        + "(CHECKSUM): checksum mismatch"), failure);
    assertEquals(0, aggregator.downloads.get(), "no call");
    assertNull(aggregator.inlineUpdates.poll(200, TimeUnit.MILLISECONDS), "nothing was sent");

    aggregator.shutdown();
    assertEquals(ControlSession.End.SHUTDOWN, session.get(10, TimeUnit.SECONDS));
  }

  /** Starts the aggregator and runs a session against it on another thread. */
  private CompletableFuture<ControlSession.End> run() throws Exception {
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(aggregator).build().start();
    channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
    ControlSession session = new ControlSession(channel, new AddingTrainer(GLOBAL), "a", "key-a", 0,
        new Backoff(Duration.ofMillis(20), Duration.ofMillis(100), new SplittableRandom(1)));
    return CompletableFuture.supplyAsync(session::run);
  }

  /**
   * Welcomes the learner, gives it one fit task in round 1, refuses downloads and uploads as
   * scripted (then serves them), and records what the learner reports (cause, then message).
   */
  private static final class ScriptedAggregator extends FederationGrpc.FederationImplBase {
    final ConcurrentLinkedQueue<StatusRuntimeException> downloadRefusals =
        new ConcurrentLinkedQueue<>();
    final ConcurrentLinkedQueue<StatusRuntimeException> uploadRefusals =
        new ConcurrentLinkedQueue<>();
    final AtomicInteger downloads = new AtomicInteger();
    final AtomicInteger uploads = new AtomicInteger();
    final BlockingQueue<String> failures = new LinkedBlockingQueue<>();
    final BlockingQueue<UploadReceipt> receipts = new LinkedBlockingQueue<>();
    /** If set, every download ends with this status right after its manifest. */
    volatile Status midDownloadFailure;
    /** If set, every download's manifest declares a checksum its data does not have. */
    volatile boolean corruptDownload;
    /** If set, the task carries the parameters inline and updates are welcome inline. */
    volatile boolean inline;
    volatile long offeredInline;
    final BlockingQueue<LearnerMessage> inlineUpdates = new LinkedBlockingQueue<>();
    private volatile StreamObserver<AggregatorMessage> control;

    private static Manifest corrupted(Manifest manifest) {
      return manifest.toBuilder().setCrc32C(manifest.getCrc32C() + 1).build();
    }

    void shutdown() {
      control.onNext(AggregatorMessage.newBuilder().setEnvelope(WireProtocol.envelope(0))
          .setShutdown(Shutdown.newBuilder().setReason("training finished")).build());
      control.onCompleted();
    }

    @Override
    public StreamObserver<LearnerMessage> connect(StreamObserver<AggregatorMessage> out) {
      return new StreamObserver<>() {
        @Override
        public void onNext(LearnerMessage message) {
          if (message.hasHello()) {
            control = out;
            offeredInline = message.getHello().getMaxInlineBytes();
            out.onNext(AggregatorMessage.newBuilder().setEnvelope(WireProtocol.envelope(0))
                .setWelcome(Welcome.newBuilder().setLearnerId("learner-1")
                    .setMaxInlineUpdateBytes(inline ? 1024 * 1024 : 0)).build());
            Task.Builder task = Task.newBuilder().setTaskId("r1-fit-1").setKind(TaskKind.FIT);
            if (inline) {
              InlineTensors parameters = InlineParameters.encode(EncodedParameters.encode(GLOBAL));
              task.setParameters(corruptDownload ? parameters.toBuilder().setManifest(
                  corrupted(parameters.getManifest())).build() : parameters);
            }
            out.onNext(AggregatorMessage.newBuilder().setEnvelope(WireProtocol.envelope(1))
                .setTask(task).build());
          } else if (message.hasInlineUpdate()) {
            inlineUpdates.add(message);
          } else if (message.hasTaskFailure()) {
            failures.add(message.getTaskFailure().getCause() + " "
                + message.getTaskFailure().getMessage());
          }
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {}
      };
    }

    @Override
    public void downloadParameters(DownloadRequest request,
        StreamObserver<ParameterMessage> out) {
      downloads.incrementAndGet();
      StatusRuntimeException refusal = downloadRefusals.poll();
      if (refusal != null) {
        out.onError(refusal);
        return;
      }
      EncodedParameters encoded = EncodedParameters.encode(GLOBAL);
      Manifest manifest = encoded.manifest();
      if (corruptDownload) {
        manifest = corrupted(manifest);
      }
      out.onNext(ParameterMessage.newBuilder().setEnvelope(WireProtocol.envelope(1))
          .setManifest(manifest).build());
      if (midDownloadFailure != null) {
        out.onError(midDownloadFailure.asRuntimeException());
        return;
      }
      for (int i = 0; i < encoded.chunks().size(); i++) {
        out.onNext(ParameterMessage.newBuilder().setEnvelope(WireProtocol.envelope(1))
            .setChunk(encoded.chunk(i)).build());
      }
      out.onCompleted();
    }

    @Override
    public StreamObserver<UploadMessage> uploadUpdate(StreamObserver<UploadReceipt> out) {
      uploads.incrementAndGet();
      StatusRuntimeException refusal = uploadRefusals.poll();
      if (refusal != null) {
        out.onError(refusal);
      }
      return new StreamObserver<>() {
        @Override
        public void onNext(UploadMessage message) {}

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {
          if (refusal == null) {
            UploadReceipt receipt = UploadReceipt.newBuilder()
                .setEnvelope(WireProtocol.envelope(1)).setTaskId("r1-fit-1").build();
            out.onNext(receipt);
            out.onCompleted();
            receipts.add(receipt);
          }
        }
      };
    }
  }
}
