package dev.flops.learner.internal;

import dev.flops.proto.codec.EncodedParameters;
import dev.flops.proto.codec.WireFrame;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.v1.Chunk;
import dev.flops.proto.v1.FederationGrpc;
import dev.flops.proto.v1.UploadHeader;
import dev.flops.proto.v1.UploadMessage;
import dev.flops.proto.v1.UploadReceipt;
import io.grpc.MethodDescriptor;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.concurrent.CompletableFuture;

/**
 * Sends one fit result (header, then chunks) only as fast as gRPC flow control allows, and
 * completes with the aggregator's receipt or its refusal.
 *
 * <p>Chunks go out as {@link WireFrame}s over {@link #METHOD}: gRPC serialises each chunk's bytes
 * from the result's tensors straight into its output buffers, with no {@code byte[]} per chunk.
 * The bytes on the wire are those of the generated {@code UploadMessage}.
 */
final class UploadSender
    implements ClientResponseObserver<WireFrame<UploadMessage>, UploadReceipt> {
  private static final int CHUNK_FIELD = UploadMessage.CHUNK_FIELD_NUMBER;

  /** The upload method, its requests marshalled as frames. */
  static final MethodDescriptor<WireFrame<UploadMessage>, UploadReceipt> METHOD =
      FederationGrpc.getUploadUpdateMethod().toBuilder(
              WireFrame.marshaller(UploadMessage.getDefaultInstance(), CHUNK_FIELD),
              FederationGrpc.getUploadUpdateMethod().getResponseMarshaller())
          .build();

  private final long round;
  private final UploadHeader header;
  private final EncodedParameters parameters;
  private final CompletableFuture<UploadReceipt> result = new CompletableFuture<>();
  private ClientCallStreamObserver<WireFrame<UploadMessage>> out;
  private int next = -1;
  private boolean done;

  UploadSender(long round, UploadHeader header, EncodedParameters parameters) {
    this.round = round;
    this.header = header;
    this.parameters = parameters;
  }

  CompletableFuture<UploadReceipt> result() {
    return result;
  }

  /** Whether the header went out: from then on the aggregator may have taken up the upload. */
  synchronized boolean sentAny() {
    return next >= 0;
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<WireFrame<UploadMessage>> requestStream) {
    this.out = requestStream;
    requestStream.setOnReadyHandler(this::drain);
  }

  private synchronized void drain() {
    while (!done && out.isReady()) {
      UploadMessage.Builder message =
          UploadMessage.newBuilder().setEnvelope(WireProtocol.envelope(round));
      if (next < 0) {
        out.onNext(WireFrame.of(message.setHeader(header).build(), CHUNK_FIELD));
      } else if (next < parameters.chunks().size()) {
        out.onNext(WireFrame.outgoing(message.setChunk(Chunk.newBuilder().setIndex(next)).build(),
            CHUNK_FIELD, parameters.chunkViews(next)));
      } else {
        done = true;
        out.onCompleted();
        return;
      }
      next++;
    }
  }

  @Override
  public void onNext(UploadReceipt receipt) {
    result.complete(receipt);
  }

  @Override
  public void onError(Throwable t) {
    synchronized (this) {
      done = true;
    }
    result.completeExceptionally(t);
  }

  @Override
  public void onCompleted() {
    result.completeExceptionally(
        new IllegalStateException("the aggregator closed the upload without a receipt"));
  }
}
