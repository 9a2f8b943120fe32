package dev.flops.learner.internal;

import dev.flops.api.Parameters;
import dev.flops.proto.codec.ParameterDecoder;
import dev.flops.proto.codec.WireError;
import dev.flops.proto.codec.WireFormatException;
import dev.flops.proto.codec.WireFrame;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.v1.DownloadRequest;
import dev.flops.proto.v1.FederationGrpc;
import dev.flops.proto.v1.ParameterMessage;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * Receives one download of the global parameters, decoding each chunk inside the gRPC callback
 * that delivers it, straight from the transport's receive buffers into the model's direct
 * buffers: one copy per byte, with the CRC32C and the finite scan fused into it ({@link
 * ParameterDecoder#accept(long, java.util.List)}), and no {@code byte[]} per chunk.
 *
 * <p>Why not the blocking stub: it queues parsed messages for the waiting thread, past the point
 * where gRPC releases its receive buffers, so each chunk had to be parsed into a heap copy first
 * (gRPC's {@code byte[]}, then protobuf's). Here the response marshaller is {@link
 * WireFrame#marshaller}, and a frame's chunk data is only valid until {@code onMessage} returns,
 * which is where it is decoded.
 *
 * <p>Flow control is manual: one message is requested at a time, after the previous one was
 * decoded, so a slow decoder holds at most HTTP/2's flow-control window of data, not the model.
 *
 * <p>Threads: {@link #receive} runs on the session thread and waits; the call's callbacks run on
 * the channel's executor (the transport thread for a learner's channel) and are serialised by
 * gRPC, so the decoder is touched by one thread at a time; the session thread reads it only
 * after the result future completed. One receiver serves one call.
 */
final class DownloadReceiver extends ClientCall.Listener<WireFrame<ParameterMessage>> {
  private static final int CHUNK_FIELD = ParameterMessage.CHUNK_FIELD_NUMBER;

  /** The download method, its responses parsed as frames. */
  static final MethodDescriptor<DownloadRequest, WireFrame<ParameterMessage>> METHOD =
      FederationGrpc.getDownloadParametersMethod().toBuilder(
              FederationGrpc.getDownloadParametersMethod().getRequestMarshaller(),
              WireFrame.marshaller(ParameterMessage.getDefaultInstance(), CHUNK_FIELD))
          .build();

  private final long round;
  /** Completes with the decoder (null if no message came) once the call closed cleanly. */
  private final CompletableFuture<ParameterDecoder> done = new CompletableFuture<>();
  private final ClientCall<DownloadRequest, WireFrame<ParameterMessage>> call;
  private ParameterDecoder decoder;
  private volatile boolean receivedAny;

  private DownloadReceiver(Channel channel, long round) {
    this.round = round;
    // The call belongs to the caller's context: cancelling that context cancels the call.
    this.call = channel.newCall(METHOD,
        CallOptions.DEFAULT.withMaxInboundMessageSize(WireProtocol.MAX_MESSAGE_BYTES));
  }

  /**
   * Downloads and decodes the parameters of one task; the call is cancelled if the download is
   * abandoned (a malformed message, no memory, an interrupt).
   *
   * @param channel the learner's channel (its interceptors see the call)
   * @param request the download request; its envelope's round is the task's
   * @param received told, before this returns or throws, whether any message arrived
   * @return the parameters, in direct buffers
   * @throws io.grpc.StatusRuntimeException if the call failed (with the aggregator's trailers)
   * @throws WireFormatException if what arrived breaks the protocol: a wrong version or round
   *     ({@code STALE_ROUND}), no manifest first, or the decoder's size, checksum or finite checks
   * @throws OutOfMemoryError if the parameters' buffers could not be allocated
   * @throws InterruptedException if the thread was interrupted while waiting
   */
  static Parameters receive(Channel channel, DownloadRequest request, ReceivedFlag received)
      throws InterruptedException {
    DownloadReceiver receiver = new DownloadReceiver(channel, request.getEnvelope().getRound());
    try {
      return receiver.run(request);
    } finally {
      received.set(receiver.receivedAny);
    }
  }

  /** Tells the caller whether a download attempt received data. */
  @FunctionalInterface
  interface ReceivedFlag {
    void set(boolean receivedAny);
  }

  private Parameters run(DownloadRequest request) throws InterruptedException {
    call.start(this, new Metadata());
    call.request(1);
    call.sendMessage(request);
    call.halfClose();
    ParameterDecoder result;
    try {
      result = done.get();
    } catch (InterruptedException e) {
      call.cancel("the learner was interrupted during the download", e);
      throw e;
    } catch (ExecutionException e) {
      throw rethrow(e.getCause());
    }
    if (result == null) {
      throw new WireFormatException(WireError.MALFORMED_MESSAGE,
          "the download ended before its manifest");
    }
    return result.finish(true);
  }

  /** Rethrows what failed on the transport thread as itself, so callers see the same types. */
  private static RuntimeException rethrow(Throwable failure) {
    if (failure instanceof RuntimeException e) {
      throw e;
    }
    if (failure instanceof Error e) {
      throw e;
    }
    throw Status.fromThrowable(failure).asRuntimeException();
  }

  @Override
  public void onMessage(WireFrame<ParameterMessage> frame) {
    if (done.isDone()) {
      return; // already failed and cancelled; messages in flight are dropped
    }
    try {
      receivedAny = true;
      decode(frame);
      call.request(1);
    } catch (RuntimeException | Error e) {
      // Failed first, then cancelled: the close that the cancellation brings finds the future
      // done and cannot replace the decoding error with its CANCELLED status.
      done.completeExceptionally(e);
      call.cancel("the learner refused the download: " + e.getMessage(), e);
    }
  }

  private void decode(WireFrame<ParameterMessage> frame) {
    ParameterMessage message = frame.message();
    WireProtocol.checkVersion(message.getEnvelope());
    if (message.getEnvelope().getRound() != round) {
      throw new WireFormatException(WireError.STALE_ROUND, "the download carries round "
          + message.getEnvelope().getRound() + " but the task is in round " + round);
    }
    if (decoder == null) {
      if (!message.hasManifest()) {
        throw new WireFormatException(WireError.MALFORMED_MESSAGE,
            "the download did not start with a manifest");
      }
      // Direct buffers: a DL4J model takes them without a staging copy (Nd4jBuffers).
      decoder = new ParameterDecoder(message.getManifest(),
          (index, bytes) -> ByteBuffer.allocateDirect(bytes));
    } else {
      decoder.accept(message.getChunk().getIndex(), frame.chunkData());
    }
  }

  @Override
  public void onClose(Status status, Metadata trailers) {
    if (status.isOk()) {
      done.complete(decoder);
    } else {
      // The trailers carry the aggregator's WireError code, which decides about a retry.
      done.completeExceptionally(status.asRuntimeException(trailers));
    }
  }
}
