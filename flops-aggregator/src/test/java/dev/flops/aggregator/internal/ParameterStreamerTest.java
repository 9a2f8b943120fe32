package dev.flops.aggregator.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.proto.codec.EncodedParameters;
import dev.flops.proto.codec.WireError;
import dev.flops.proto.codec.WireFrame;
import dev.flops.proto.v1.ParameterMessage;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * A download whose next message cannot be allocated: the streamer ends it with
 * RESOURCE_EXHAUSTED (code OUT_OF_MEMORY) and the aggregator's explanation, and gives its download
 * slot back; one that fails unexpectedly ends as an aggregator fault, slot given back too.
 *
 * <p>The call is a fake: running a real download out of direct memory would need Netty's buffers
 * to fail on cue. The upload side of the same fault runs end to end in DirectMemoryTest.
 */
class ParameterStreamerTest {
  @Test
  void outOfMemoryWhileSending_downloadEndsWithTheCause_slotReleased_nextDownloadStreams() {
    Parameters global = Parameters.of(Tensor.ofFloats("w", new long[] {4}, new float[4]));
    DownloadSource encoded = new DownloadSource(EncodedParameters.encode(global));
    TransferSlots slots = new TransferSlots(1);
    List<OutOfMemoryError> reported = new ArrayList<>();

    FakeCall failing = new FakeCall(1);
    ParameterStreamer.start(failing, encoded, 1, new AtomicLong(), slots, error -> {
      reported.add(error);
      return "the aggregator ran out of direct memory (" + error.getMessage() + ")";
    });
    assertEquals(1, reported.size());
    Status status = Status.fromThrowable(failing.error);
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, status.getCode());
    assertEquals(Optional.of(WireError.OUT_OF_MEMORY), WireError.of(failing.error));
    assertEquals("the aggregator ran out of direct memory (Cannot reserve 1048576 bytes of "
        + "direct buffer memory)", status.getDescription());
    assertEquals(0, slots.held(), "the download slot was given back");

    FakeCall next = new FakeCall(-1);
    ParameterStreamer.start(next, encoded, 1, new AtomicLong(), slots, error -> "unexpected");
    assertTrue(next.completed, "the next download got the slot and finished");
    assertEquals(1 + encoded.encoded().chunks().size(), next.sent.size());
    assertEquals(0, slots.held());
  }

  @Test
  void unexpectedExceptionWhileSending_downloadEndsAsAnAggregatorFault_slotReleased() {
    Parameters global = Parameters.of(Tensor.ofFloats("w", new long[] {4}, new float[4]));
    TransferSlots slots = new TransferSlots(1);
    FakeCall failing = new FakeCall(1, new IllegalStateException("buffer already released"));

    ParameterStreamer.start(failing, new DownloadSource(EncodedParameters.encode(global)), 1,
        new AtomicLong(), slots, error -> "unexpected");

    Status status = Status.fromThrowable(failing.error);
    assertEquals(Status.Code.INTERNAL, status.getCode());
    assertEquals(Optional.of(WireError.AGGREGATOR_FAULT), WireError.of(failing.error));
    assertFalse(status.getDescription().contains("buffer already released"),
        status.getDescription());
    assertEquals(0, slots.held(), "the download slot was given back");
  }

  @Test
  void parametersRetiredMidDownload_downloadEndsAsTaskEnded_noChunkReadAfter_slotReleased() {
    // 3 chunks of 16 bytes: the download sends the manifest and one chunk, then stalls on flow
    // control; the training loop retires the parameters (a later round replaced them and their
    // memory is about to be freed); when the learner reads again, no further chunk is cut.
    Parameters global = Parameters.of(Tensor.ofFloats("w", new long[] {12}, new float[12]));
    DownloadSource source = new DownloadSource(EncodedParameters.encode(global, 16));
    TransferSlots slots = new TransferSlots(1);
    FakeCall call = new FakeCall(-1);
    call.readyFor = 2;

    ParameterStreamer.start(call, source, 4, new AtomicLong(), slots, error -> "unexpected");
    assertEquals(2, call.sent.size(), "the manifest and the first chunk");
    source.retire();
    call.readyFor = Integer.MAX_VALUE;
    call.onReady.run();

    assertEquals(2, call.sent.size(), "no chunk is cut from retired parameters");
    assertFalse(call.completed);
    assertEquals(Optional.of(WireError.TASK_ENDED), WireError.of(call.error));
    assertTrue(Status.fromThrowable(call.error).getDescription()
        .contains("parameters of round 4 were replaced"), call.error.toString());
    assertEquals(0, slots.held(), "the download slot was given back");
    assertFalse(source.tryRead(), "retired stays retired");
  }

  /** A ready call that records what it is sent and fails the {@code failAt}-th message. */
  private static final class FakeCall
      extends ServerCallStreamObserver<WireFrame<ParameterMessage>> {
    private final int failAt;
    private final Throwable failure;
    final List<WireFrame<ParameterMessage>> sent = new ArrayList<>();
    Throwable error;
    boolean completed;
    /** isReady() is true while fewer messages than this were sent (flow control). */
    int readyFor = Integer.MAX_VALUE;
    Runnable onReady;

    FakeCall(int failAt) {
      this(failAt, new OutOfMemoryError("Cannot reserve 1048576 bytes of direct buffer memory"));
    }

    FakeCall(int failAt, Throwable failure) {
      this.failAt = failAt;
      this.failure = failure;
    }

    @Override
    public void onNext(WireFrame<ParameterMessage> message) {
      if (sent.size() == failAt) {
        if (failure instanceof Error e) {
          throw e;
        }
        throw (RuntimeException) failure;
      }
      sent.add(message);
    }

    @Override
    public void onError(Throwable t) {
      error = t;
    }

    @Override
    public void onCompleted() {
      completed = true;
    }

    @Override
    public boolean isReady() {
      return sent.size() < readyFor;
    }

    @Override
    public boolean isCancelled() {
      return false;
    }

    @Override
    public void setOnReadyHandler(Runnable handler) {
      onReady = handler;
    }

    @Override
    public void setOnCancelHandler(Runnable handler) {}

    @Override
    public void setCompression(String compression) {}

    @Override
    public void disableAutoInboundFlowControl() {}

    @Override
    public void request(int count) {}

    @Override
    public void setMessageCompression(boolean enable) {}
  }
}
