package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.BytesValue;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The aggregator's per-stream HTTP/2 window stays fixed ({@link Aggregator#flowControl}): what a
 * stream the aggregator does not read (an upload waiting for a slot) can push into it is one
 * window, also on a connection that has carried fast transfers before. With gRPC's BDP
 * auto-tuning such a connection's later streams got windows of up to 8 MiB, and 1000 waiting
 * uploads ran the aggregator out of direct memory (benchmarks/README.md, "Issue 13: 1000
 * learners").
 *
 * <p>A test service on the aggregator's own server settings, real Netty on loopback: the
 * aggregator's upload method cannot be driven without a federation's task, and what is tested is
 * the transport's setting, not the upload's logic. "Sink" reads everything (the fast transfers a
 * learner's earlier uploads were); "hold" reads nothing (a waiting upload).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FlowControlWindowTest {
  private static final int MESSAGE_BYTES = 16 * 1024;
  private static final BytesValue MESSAGE =
      BytesValue.of(ByteString.copyFrom(new byte[MESSAGE_BYTES]));
  private static final MethodDescriptor.Marshaller<BytesValue> VALUES =
      ProtoUtils.marshaller(BytesValue.getDefaultInstance());
  private static final MethodDescriptor<BytesValue, BytesValue> SINK = method("sink");
  private static final MethodDescriptor<BytesValue, BytesValue> HOLD = method("hold");

  private Server server;
  private ManagedChannel channel;

  private static MethodDescriptor<BytesValue, BytesValue> method(String name) {
    return MethodDescriptor.<BytesValue, BytesValue>newBuilder()
        .setType(MethodDescriptor.MethodType.BIDI_STREAMING)
        .setFullMethodName("test.Window/" + name)
        .setRequestMarshaller(VALUES).setResponseMarshaller(VALUES).build();
  }

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
  void anUnreadStreamHoldsOneWindowAfterFastTransfersOnItsConnection() throws Exception {
    long sent = unreadAfterFastTransfers(Aggregator.DEFAULT_FLOW_CONTROL_WINDOW);
    // One 64 KiB window, plus what gRPC's client queues before isReady() turns false (32 KiB)
    // and the message under way; with BDP auto-tuning 288 KiB went through here (up to 8 MiB).
    assertTrue(sent <= 160 * 1024, "a stream the server does not read pushed " + sent
        + " bytes into it; the per-stream window must stay at "
        + Aggregator.INITIAL_FLOW_CONTROL_WINDOW + " bytes");
  }

  @Test
  void aWiderWindowFromTheBuilder_boundsAnUnreadStreamAtThatWindow() throws Exception {
    long sent = unreadAfterFastTransfers(1 << 20);
    assertTrue(sent > 512 * 1024 && sent <= (1 << 20) + 96 * 1024,
        "with a 1 MiB window an unread stream took " + sent + " bytes");
  }

  @Test
  void theBuilderRefusesWindowsOutOfRange() {
    for (int bad : new int[] {0, 65535, (16 << 20) + 1}) {
      IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(
          IllegalArgumentException.class, () -> Aggregator.builder().flowControlWindow(bad));
      assertTrue(e.getMessage().startsWith("flowControlWindow must be in [65536, 16777216] bytes"),
          e.getMessage());
    }
  }

  private long unreadAfterFastTransfers(int window) throws Exception {
    server = Aggregator.flowControl(
            NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)), window)
        .addService(ServerServiceDefinition.builder("test.Window")
            .addMethod(SINK, ServerCalls.asyncBidiStreamingCall(
                response -> reader(response::onCompleted)))
            .addMethod(HOLD, ServerCalls.asyncBidiStreamingCall(response -> {
              ((ServerCallStreamObserver<BytesValue>) response).disableAutoRequest();
              return reader(() -> {});
            }))
            .build())
        .build().start();
    channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();

    // Fast transfers on the connection: what let BDP estimation widen its window.
    for (int i = 0; i < 4; i++) {
      Sender sink = send(SINK, 16L << 20);
      assertTrue(sink.finished.await(30, TimeUnit.SECONDS), "the sink transfer did not finish");
      assertNull(sink.failure, "the sink transfer failed");
    }

    Sender hold = send(HOLD, Long.MAX_VALUE);
    return hold.settled();
  }

  /** Reads and drops messages; {@code completed} runs when the client half-closes. */
  private static StreamObserver<BytesValue> reader(Runnable completed) {
    return new StreamObserver<BytesValue>() {
      @Override
      public void onNext(BytesValue value) {}

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {
        completed.run();
      }
    };
  }

  private Sender send(MethodDescriptor<BytesValue, BytesValue> method, long bytes) {
    Sender sender = new Sender(bytes);
    ClientCalls.asyncBidiStreamingCall(channel.newCall(method, io.grpc.CallOptions.DEFAULT),
        sender);
    return sender;
  }

  /** Sends messages whenever the call is ready, up to a byte count, then half-closes. */
  private static final class Sender implements ClientResponseObserver<BytesValue, BytesValue> {
    private final long limit;
    private final AtomicLong sent = new AtomicLong();
    private final CountDownLatch finished = new CountDownLatch(1);
    private ClientCallStreamObserver<BytesValue> out;
    private volatile Throwable failure;

    Sender(long limit) {
      this.limit = limit;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<BytesValue> requestStream) {
      out = requestStream;
      requestStream.setOnReadyHandler(this::drain);
    }

    private void drain() {
      while (out.isReady() && sent.get() < limit) {
        out.onNext(MESSAGE);
        if (sent.addAndGet(MESSAGE_BYTES) >= limit) {
          out.onCompleted();
        }
      }
    }

    /** Returns the bytes sent once nothing more has gone out for half a second. */
    long settled() throws InterruptedException {
      long last = -1;
      while (sent.get() != last) {
        last = sent.get();
        Thread.sleep(500);
      }
      return last;
    }

    @Override
    public void onNext(BytesValue value) {}

    @Override
    public void onError(Throwable t) {
      failure = t;
      finished.countDown();
    }

    @Override
    public void onCompleted() {
      finished.countDown();
    }
  }
}
