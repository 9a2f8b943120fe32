package dev.flops.aggregator;

import dev.flops.proto.v1.AggregatorMessage;
import dev.flops.proto.v1.FederationGrpc;
import dev.flops.proto.v1.LearnerMessage;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** A learner's control stream driven by hand, over any channel (see {@link SecureRawLearner}). */
final class RawSession {
  private final BlockingQueue<Object> inbound = new LinkedBlockingQueue<>();
  private final StreamObserver<LearnerMessage> out;

  RawSession(Channel channel) {
    out = FederationGrpc.newStub(channel).connect(new StreamObserver<>() {
      @Override
      public void onNext(AggregatorMessage message) {
        inbound.add(message);
      }

      @Override
      public void onError(Throwable t) {
        // The exception as the cause: its trailers carry the refusal's code (WireError.of).
        inbound.add(Status.fromThrowable(t).withCause(t));
      }

      @Override
      public void onCompleted() {
        inbound.add("completed");
      }
    });
  }

  void send(LearnerMessage message) {
    out.onNext(message);
  }

  AggregatorMessage next() throws InterruptedException {
    return next(10);
  }

  /** Waits up to {@code seconds} for the aggregator's next message. */
  AggregatorMessage next(long seconds) throws InterruptedException {
    Object next = inbound.poll(seconds, TimeUnit.SECONDS);
    if (next instanceof AggregatorMessage message) {
      return message;
    }
    throw new AssertionError("expected a message from the aggregator but got " + next);
  }

  Status awaitError() throws InterruptedException {
    Object next = inbound.poll(10, TimeUnit.SECONDS);
    if (next instanceof Status status) {
      return status;
    }
    throw new AssertionError("expected the stream to end with an error but got " + next);
  }

  void close() {
    out.onCompleted();
  }
}
