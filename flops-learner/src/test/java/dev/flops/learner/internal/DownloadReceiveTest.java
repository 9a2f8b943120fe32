package dev.flops.learner.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.proto.codec.EncodedParameters;
import dev.flops.proto.codec.WireFrame;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.v1.AggregatorMessage;
import dev.flops.proto.v1.Chunk;
import dev.flops.proto.v1.DownloadRequest;
import dev.flops.proto.v1.FederationGrpc;
import dev.flops.proto.v1.LearnerMessage;
import dev.flops.proto.v1.ParameterMessage;
import dev.flops.proto.v1.Shutdown;
import dev.flops.proto.v1.Task;
import dev.flops.proto.v1.TaskKind;
import dev.flops.proto.v1.Welcome;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * How a learner receives the global model over a download call, over real gRPC on loopback:
 * decoded from the transport's buffers without a heap copy per chunk, every check of the
 * protocol kept, and the call cancelled when the learner gives the download up.
 *
 * <p>The aggregator here is scripted (a fake) so that it can corrupt a download on cue; it serves
 * downloads as the real one does, through {@link WireFrame#marshaller} with the chunk data
 * written from the model's buffers.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DownloadReceiveTest {
  /** 8 MiB of floats: eight chunks of 1 MiB. */
  private static final int FLOATS = 2 * 1024 * 1024;
  private static final long MODEL_BYTES = 4L * FLOATS;
  private static final Parameters GLOBAL = model();

  private final ScriptedAggregator aggregator = new ScriptedAggregator();
  private final CopyOnWriteArrayList<Thread> clientThreads = new CopyOnWriteArrayList<>();
  private final AddingTrainer trainer =
      new AddingTrainer(Parameters.of(Tensor.ofFloats("w", 0f))); // not GLOBAL until downloaded
  private Server server;
  private NioEventLoopGroup clientLoop;
  private ManagedChannel channel;
  private Thread sessionThread;

  @AfterEach
  void close() throws InterruptedException {
    if (sessionThread != null) {
      sessionThread.interrupt();
      sessionThread.join(5000);
    }
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (clientLoop != null) {
      clientLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void multiChunkModel_decodedFromTheTransportsBuffers_noHeapCopyPerChunk() throws Exception {
    FrameProbe probe = new FrameProbe();
    CompletableFuture<ControlSession.End> session = run(probe);
    // The first download warms up class loading and JIT; the second is measured.
    aggregator.sendTask(1, "warm-up");
    assertNotNull(aggregator.result("warm-up"), "the warm-up task finished");
    long before = clientAllocatedBytes();
    aggregator.sendTask(2, "measured");
    assertNotNull(aggregator.result("measured"), "the measured task finished");
    long allocated = clientAllocatedBytes() - before;

    assertEquals(GLOBAL, trainer.getParameters(), "the model holds the global parameters");
    assertTrue(trainer.getParameters().tensors().get(0).data().isDirect(), "decoded off-heap");
    // Before: gRPC's byte[] and protobuf's byte[] per 1 MiB chunk, 9.7 MB of garbage per
    // download on the learner's threads. Now about 0.78 MB: netty's and gRPC's small objects
    // per 16 KiB HTTP/2 frame, and the frames' views.
    assertTrue(allocated < MODEL_BYTES / 4, String.format(
        "the learner's threads allocated %d bytes of heap for a %d-byte download", allocated,
        MODEL_BYTES));
    // The learner's interceptors see the call, and its chunks as frames over netty's buffers.
    assertEquals(2, probe.calls.get(), "both downloads went through the interceptor");
    assertEquals(16, probe.frames.get(), "every chunk arrived as a frame");
    assertEquals(0, probe.parsedChunks.get(), "no chunk parsed into a message of its own");
    // gRPC coalesces runs of small receive buffers into a byte[]: those few bytes are copied.
    assertTrue(probe.heapBytes.get() < 64 * 1024,
        probe.heapBytes + " bytes of chunk data on the heap; the rest in netty's direct buffers");

    shutDownCleanly(session);
  }

  @Test
  void flippedBit_refusedWithChecksum_notRetried() throws Exception {
    aggregator.script = (round, out) -> {
      EncodedParameters encoded = EncodedParameters.encode(GLOBAL);
      out.onNext(manifest(round, encoded));
      for (int i = 0; i < encoded.chunks().size(); i++) {
        List<ByteBuffer> data = encoded.chunkViews(i);
        if (i == 3) {
          data = List.of(flipOneBit(data));
        }
        out.onNext(chunk(round, i, data));
      }
      out.onCompleted();
    };
    CompletableFuture<ControlSession.End> session = run(null);
    aggregator.sendTask(1, "t");

    String failure = aggregator.failure();
    assertTrue(failure.startsWith("TRANSFER_BROKEN the download broke the protocol (CHECKSUM): "
        + "checksum mismatch"), failure);
    assertEquals(1, aggregator.downloads.get(), "not retried");

    shutDownCleanly(session);
  }

  @Test
  void wrongRoundMidDownload_refusedAsStale_andTheCallCancelled() throws Exception {
    aggregator.script = (round, out) -> {
      EncodedParameters encoded = EncodedParameters.encode(GLOBAL);
      out.onNext(manifest(round, encoded));
      out.onNext(chunk(round, 0, encoded.chunkViews(0)));
      out.onNext(chunk(round + 1, 1, encoded.chunkViews(1)));
      // No end: only the learner's cancellation ends this call.
    };
    CompletableFuture<ControlSession.End> session = run(null);
    aggregator.sendTask(1, "t");

    assertEquals("TRANSFER_BROKEN the download broke the protocol (STALE_ROUND): the download "
        + "carries round 2 but the task is in round 1", aggregator.failure());
    assertTrue(aggregator.cancelled.await(10, TimeUnit.SECONDS),
        "the learner cancelled the download call");
    assertEquals(1, aggregator.downloads.get(), "not retried");

    shutDownCleanly(session);
  }

  @Test
  void chunkBeforeManifest_refusedAsMalformed_andTheCallCancelled() throws Exception {
    aggregator.script = (round, out) -> {
      EncodedParameters encoded = EncodedParameters.encode(GLOBAL);
      out.onNext(chunk(round, 0, encoded.chunkViews(0)));
    };
    CompletableFuture<ControlSession.End> session = run(null);
    aggregator.sendTask(1, "t");

    assertEquals("TRANSFER_BROKEN the download broke the protocol (MALFORMED_MESSAGE): the "
        + "download did not start with a manifest", aggregator.failure());
    assertTrue(aggregator.cancelled.await(10, TimeUnit.SECONDS),
        "the learner cancelled the download call");

    shutDownCleanly(session);
  }

  @Test
  void downloadWithoutMessages_refusedAsEndedBeforeItsManifest() throws Exception {
    aggregator.script = (round, out) -> out.onCompleted();
    CompletableFuture<ControlSession.End> session = run(null);
    aggregator.sendTask(1, "t");

    assertEquals("TRANSFER_BROKEN the download broke the protocol (MALFORMED_MESSAGE): the "
        + "download ended before its manifest", aggregator.failure());
    assertEquals(1, aggregator.downloads.get(), "not retried");

    shutDownCleanly(session);
  }

  @Test
  void interruptedDuringTheDownload_sessionStops_andTheCallCancelled() throws Exception {
    CountDownLatch manifestSent = new CountDownLatch(1);
    aggregator.script = (round, out) -> {
      out.onNext(manifest(round, EncodedParameters.encode(GLOBAL)));
      manifestSent.countDown();
    };
    CompletableFuture<ControlSession.End> session = run(null);
    aggregator.sendTask(1, "t");
    assertTrue(manifestSent.await(10, TimeUnit.SECONDS));

    sessionThread.interrupt();
    assertEquals(ControlSession.End.STOPPED, session.get(10, TimeUnit.SECONDS));
    assertTrue(aggregator.cancelled.await(10, TimeUnit.SECONDS),
        "the learner cancelled the download call");
  }

  private static Parameters model() {
    float[] values = new float[FLOATS];
    for (int i = 0; i < values.length; i++) {
      values[i] = i * 0.25f - 1000;
    }
    return Parameters.of(Tensor.ofFloats("w", new long[] {FLOATS}, values));
  }

  private static ByteBuffer flipOneBit(List<ByteBuffer> data) {
    int size = data.stream().mapToInt(ByteBuffer::remaining).sum();
    ByteBuffer copy = ByteBuffer.allocate(size);
    data.forEach(piece -> copy.put(piece.duplicate()));
    copy.flip();
    copy.put(1000, (byte) (copy.get(1000) ^ 0x10));
    return copy;
  }

  private static WireFrame<ParameterMessage> manifest(long round, EncodedParameters encoded) {
    return WireFrame.of(ParameterMessage.newBuilder().setEnvelope(WireProtocol.envelope(round))
        .setManifest(encoded.manifest()).build(), ParameterMessage.CHUNK_FIELD_NUMBER);
  }

  private static WireFrame<ParameterMessage> chunk(long round, int index, List<ByteBuffer> data) {
    return WireFrame.outgoing(ParameterMessage.newBuilder()
            .setEnvelope(WireProtocol.envelope(round))
            .setChunk(Chunk.newBuilder().setIndex(index)).build(),
        ParameterMessage.CHUNK_FIELD_NUMBER, data);
  }

  /** Heap bytes allocated so far by the learner's threads: its session and its event loop. */
  private long clientAllocatedBytes() {
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long sum = threads.getThreadAllocatedBytes(sessionThread.getId());
    for (Thread thread : clientThreads) {
      sum += threads.getThreadAllocatedBytes(thread.getId());
    }
    return sum;
  }

  /**
   * Starts the aggregator and a session against it on a thread of its own. The learner's channel
   * is set up as the real learner's (a direct executor), on an event loop of its own so that its
   * threads' allocations can be told from the server's.
   */
  private CompletableFuture<ControlSession.End> run(ClientInterceptor interceptor)
      throws Exception {
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(aggregator.definition()).build().start();
    clientLoop = new NioEventLoopGroup(1, runnable -> {
      Thread thread = new Thread(runnable, "learner-loop");
      thread.setDaemon(true);
      clientThreads.add(thread);
      return thread;
    });
    NettyChannelBuilder builder = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort())
        .usePlaintext().eventLoopGroup(clientLoop).channelType(NioSocketChannel.class)
        .directExecutor();
    if (interceptor != null) {
      builder.intercept(interceptor);
    }
    channel = builder.build();
    ControlSession session = new ControlSession(channel, trainer, "a", "key-a");
    CompletableFuture<ControlSession.End> end = new CompletableFuture<>();
    sessionThread = new Thread(() -> end.complete(session.run()), "learner-session");
    sessionThread.start();
    return end;
  }

  /** A learner interceptor that looks at each download message while its data is valid. */
  private static final class FrameProbe implements ClientInterceptor {
    final AtomicInteger calls = new AtomicInteger();
    final AtomicInteger frames = new AtomicInteger();
    final AtomicInteger parsedChunks = new AtomicInteger();
    final AtomicLong heapBytes = new AtomicLong();

    @Override
    public <Q, A> ClientCall<Q, A> interceptCall(MethodDescriptor<Q, A> method,
        CallOptions options, Channel next) {
      ClientCall<Q, A> call = next.newCall(method, options);
      if (!method.getFullMethodName()
          .equals(FederationGrpc.getDownloadParametersMethod().getFullMethodName())) {
        return call;
      }
      calls.incrementAndGet();
      return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
        @Override
        public void start(Listener<A> listener, Metadata headers) {
          super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(
              listener) {
            @Override
            public void onMessage(A message) {
              if (message instanceof WireFrame<?> frame) {
                if (frame.chunkBytes() > 0) {
                  frames.incrementAndGet();
                  frame.chunkData().stream().filter(data -> !data.isDirect())
                      .forEach(data -> heapBytes.addAndGet(data.remaining()));
                }
              } else if (message instanceof ParameterMessage parsed && parsed.hasChunk()) {
                parsedChunks.incrementAndGet();
              }
              super.onMessage(message);
            }
          }, headers);
        }
      };
    }
  }

  /** What a scripted download sends. */
  @FunctionalInterface
  private interface DownloadScript {
    void serve(long round, StreamObserver<WireFrame<ParameterMessage>> out);
  }

  /**
   * Welcomes the learner, sends the tasks the test asks for, serves downloads as scripted (by
   * default, the global model in 1 MiB chunks) and records what the learner answers.
   */
  private static final class ScriptedAggregator {
    volatile DownloadScript script = (round, out) -> {
      EncodedParameters encoded = EncodedParameters.encode(GLOBAL);
      out.onNext(manifest(round, encoded));
      for (int i = 0; i < encoded.chunks().size(); i++) {
        out.onNext(chunk(round, i, encoded.chunkViews(i)));
      }
      out.onCompleted();
    };
    final AtomicInteger downloads = new AtomicInteger();
    final CountDownLatch cancelled = new CountDownLatch(1);
    final BlockingQueue<LearnerMessage> answers = new LinkedBlockingQueue<>();
    private final CompletableFuture<StreamObserver<AggregatorMessage>> control =
        new CompletableFuture<>();

    ServerServiceDefinition definition() {
      MethodDescriptor<DownloadRequest, ParameterMessage> download =
          FederationGrpc.getDownloadParametersMethod();
      return ServerServiceDefinition.builder(FederationGrpc.SERVICE_NAME)
          .addMethod(FederationGrpc.getConnectMethod(),
              ServerCalls.asyncBidiStreamingCall(this::connect))
          .addMethod(download.toBuilder(download.getRequestMarshaller(),
                  WireFrame.marshaller(ParameterMessage.getDefaultInstance(),
                      ParameterMessage.CHUNK_FIELD_NUMBER)).build(),
              ServerCalls.asyncServerStreamingCall(this::download))
          .build();
    }

    void sendTask(long round, String taskId) throws Exception {
      control.get(10, TimeUnit.SECONDS).onNext(AggregatorMessage.newBuilder()
          .setEnvelope(WireProtocol.envelope(round))
          .setTask(Task.newBuilder().setTaskId(taskId).setKind(TaskKind.EVALUATE)).build());
    }

    void shutdown() throws Exception {
      StreamObserver<AggregatorMessage> out = control.get(10, TimeUnit.SECONDS);
      out.onNext(AggregatorMessage.newBuilder().setEnvelope(WireProtocol.envelope(0))
          .setShutdown(Shutdown.newBuilder().setReason("training finished")).build());
      out.onCompleted();
    }

    /** Waits for the learner's evaluate result of a task; null if none came in time. */
    LearnerMessage result(String taskId) throws InterruptedException {
      for (LearnerMessage m = next(); m != null; m = next()) {
        if (m.hasEvaluateResult() && m.getEvaluateResult().getTaskId().equals(taskId)) {
          return m;
        }
      }
      return null;
    }

    /** Waits for the learner's report of a failed task: its cause, then its message. */
    String failure() throws InterruptedException {
      for (LearnerMessage m = next(); m != null; m = next()) {
        if (m.hasTaskFailure()) {
          return m.getTaskFailure().getCause() + " " + m.getTaskFailure().getMessage();
        }
      }
      return "no failure reported";
    }

    private LearnerMessage next() throws InterruptedException {
      return answers.poll(20, TimeUnit.SECONDS);
    }

    private StreamObserver<LearnerMessage> connect(StreamObserver<AggregatorMessage> out) {
      return new StreamObserver<>() {
        @Override
        public void onNext(LearnerMessage message) {
          if (message.hasHello()) {
            out.onNext(AggregatorMessage.newBuilder().setEnvelope(WireProtocol.envelope(0))
                .setWelcome(Welcome.newBuilder().setLearnerId("learner-1")).build());
            control.complete(out);
          } else {
            answers.add(message);
          }
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {}
      };
    }

    private void download(DownloadRequest request,
        StreamObserver<WireFrame<ParameterMessage>> out) {
      downloads.incrementAndGet();
      ((ServerCallStreamObserver<?>) out).setOnCancelHandler(cancelled::countDown);
      script.serve(request.getEnvelope().getRound(), out);
    }
  }

  /** Shuts the aggregator down and checks that the learner's session then ends as told. */
  private void shutDownCleanly(CompletableFuture<ControlSession.End> session) throws Exception {
    aggregator.shutdown();
    assertEquals(ControlSession.End.SHUTDOWN, session.get(10, TimeUnit.SECONDS));
  }
}
