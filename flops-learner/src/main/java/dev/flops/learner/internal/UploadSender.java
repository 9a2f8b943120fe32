package dev.flops.learner.internal;

import dev.flops.proto.codec.EncodedParameters;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.v1.UploadHeader;
import dev.flops.proto.v1.UploadMessage;
import dev.flops.proto.v1.UploadReceipt;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.concurrent.CompletableFuture;

/**
 * Sends one fit result (header, then chunks) only as fast as gRPC flow control allows, and
 * completes with the aggregator's receipt or its refusal.
 */
final class UploadSender implements ClientResponseObserver<UploadMessage, UploadReceipt> {
  private final long round;
  private final UploadHeader header;
  private final EncodedParameters parameters;
  private final CompletableFuture<UploadReceipt> result = new CompletableFuture<>();
  private ClientCallStreamObserver<UploadMessage> out;
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
  public void beforeStart(ClientCallStreamObserver<UploadMessage> requestStream) {
    this.out = requestStream;
    requestStream.setOnReadyHandler(this::drain);
  }

  private synchronized void drain() {
    while (!done && out.isReady()) {
      UploadMessage.Builder message =
          UploadMessage.newBuilder().setEnvelope(WireProtocol.envelope(round));
      if (next < 0) {
        out.onNext(message.setHeader(header).build());
      } else if (next < parameters.chunks().size()) {
        out.onNext(message.setChunk(parameters.chunk(next)).build());
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
