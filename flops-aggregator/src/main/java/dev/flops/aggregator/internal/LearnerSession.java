package dev.flops.aggregator.internal;

import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.v1.AggregatorMessage;
import dev.flops.proto.v1.FederationOutcome;
import dev.flops.proto.v1.Shutdown;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;

/** The aggregator's side of one learner's control stream. Sends are serialised. */
final class LearnerSession {
  final String id;
  final String name;
  /** Who opened the control stream; downloads and uploads for its tasks must come from them. */
  final Caller caller;
  private final StreamObserver<AggregatorMessage> outbound;
  private boolean open = true;
  /**
   * The most parameter data bytes that travel inline with this learner, both ways (the smaller of
   * its Hello's offer and the aggregator's threshold); 0: every transfer is a call. Set before
   * the Welcome, never changed.
   */
  volatile long inlineBytes;

  LearnerSession(String id, String name, Caller caller,
      StreamObserver<AggregatorMessage> outbound) {
    this.id = id;
    this.name = name;
    this.caller = caller;
    this.outbound = outbound;
  }

  synchronized boolean isOpen() {
    return open;
  }

  /** Sends a message; returns false if the stream is already closed or breaks. */
  synchronized boolean send(AggregatorMessage message) {
    if (!open) {
      return false;
    }
    try {
      outbound.onNext(message);
      return true;
    } catch (RuntimeException e) {
      open = false;
      return false;
    }
  }

  /** Tells the learner to shut down, and how the federation ended, and closes the stream. */
  synchronized void shutdown(FederationOutcome outcome, String reason) {
    if (!open) {
      return;
    }
    send(AggregatorMessage.newBuilder()
        .setEnvelope(WireProtocol.envelope(0))
        .setShutdown(Shutdown.newBuilder().setReason(reason).setOutcome(outcome))
        .build());
    try {
      outbound.onCompleted();
    } catch (RuntimeException ignored) {
      // The learner is already gone; nothing left to close.
    }
    open = false;
  }

  /** Closes the stream with an error status, e.g. when the learner's new connection replaces it. */
  synchronized void abort(StatusRuntimeException refusal) {
    if (!open) {
      return;
    }
    open = false;
    try {
      outbound.onError(refusal);
    } catch (RuntimeException ignored) {
      // Already closed from the learner's side.
    }
  }

  synchronized void markClosed() {
    open = false;
  }

  @Override
  public String toString() {
    return name.isEmpty() || name.equals(id) ? id : id + " (" + name + ")";
  }
}
