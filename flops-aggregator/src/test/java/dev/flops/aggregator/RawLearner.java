package dev.flops.aggregator;

import dev.flops.api.Parameters;
import com.google.protobuf.ByteString;
import dev.flops.proto.codec.EncodedParameters;
import dev.flops.proto.codec.InlineParameters;
import dev.flops.proto.codec.ParameterDecoder;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.v1.AggregatorMessage;
import dev.flops.proto.v1.DownloadRequest;
import dev.flops.proto.v1.Envelope;
import dev.flops.proto.v1.EvaluateResult;
import dev.flops.proto.v1.FederationGrpc;
import dev.flops.proto.v1.Hello;
import dev.flops.proto.v1.InlineTensors;
import dev.flops.proto.v1.InlineUpdate;
import dev.flops.proto.v1.LearnerMessage;
import dev.flops.proto.v1.Manifest;
import dev.flops.proto.v1.ParameterMessage;
import dev.flops.proto.v1.Task;
import dev.flops.proto.v1.TaskKind;
import dev.flops.proto.v1.UploadHeader;
import dev.flops.proto.v1.UploadMessage;
import dev.flops.proto.v1.UploadReceipt;
import dev.flops.proto.v1.Welcome;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A learner driven by hand over the generated gRPC stubs, on its own channel: it can speak the
 * protocol correctly (download, add {@code offset}, upload in small chunks, evaluate) or send
 * whatever a test crafts. The well-behaved {@code Learner} can never send what the hostile-input
 * tests need.
 */
final class RawLearner implements AutoCloseable {
  /** Small chunks so that a 2,480-byte update travels as ten chunks. */
  static final int CHUNK_BYTES = 256;

  /** A task and the round it was given in. */
  record Assigned(long round, Task task) {
    String taskId() {
      return task.getTaskId();
    }
  }

  private final ManagedChannel channel;
  private final RawSession control;
  private final float offset;
  private final long examples;
  private String id;
  private long inlineUpdateBytes;

  private RawLearner(int port, float offset, long examples) {
    this(NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext()
        .maxInboundMessageSize(WireProtocol.MAX_MESSAGE_BYTES).build(), offset, examples);
  }

  private RawLearner(ManagedChannel channel, float offset, long examples) {
    this.channel = channel;
    this.offset = offset;
    this.examples = examples;
    this.control = new RawSession(channel);
  }

  /** Connects, says hello and waits for the welcome. */
  static RawLearner join(int port, String name, float offset, long examples)
      throws InterruptedException {
    return join(new RawLearner(port, offset, examples), name);
  }

  /** Says hello over {@code channel} (TLS, tokens: whatever it carries), which it then owns. */
  static RawLearner join(ManagedChannel channel, String name, float offset, long examples)
      throws InterruptedException {
    return join(new RawLearner(channel, offset, examples), name);
  }

  /**
   * Connects and says hello offering inline transfers of up to {@code inlineBytes} (a current
   * learner offers {@link InlineParameters#MAX_INLINE_BYTES}); the others say hello as a learner
   * built before inline transfers did, and keep the calls.
   */
  static RawLearner joinOfferingInline(int port, String name, float offset, long examples,
      long inlineBytes) throws InterruptedException {
    return join(new RawLearner(port, offset, examples), name, inlineBytes);
  }

  private static RawLearner join(RawLearner learner, String name) throws InterruptedException {
    return join(learner, name, 0);
  }

  private static RawLearner join(RawLearner learner, String name, long inlineBytes)
      throws InterruptedException {
    learner.control.send(LearnerMessage.newBuilder()
        .setEnvelope(WireProtocol.envelope(0))
        .setHello(Hello.newBuilder().setLearnerName(name).setMaxInlineBytes(inlineBytes))
        .build());
    Welcome welcome = learner.nextMessage().getWelcome();
    learner.id = welcome.getLearnerId();
    learner.inlineUpdateBytes = welcome.getMaxInlineUpdateBytes();
    return learner;
  }

  /** The most update bytes the aggregator's Welcome said it takes inline; 0: none. */
  long inlineUpdateBytes() {
    return inlineUpdateBytes;
  }

  /** The global parameters a task carries inline, validated like a learner does. */
  static Parameters inlineParameters(Assigned assigned) {
    if (!assigned.task().hasParameters()) {
      throw new AssertionError("the task carries no inline parameters: " + assigned.task());
    }
    InlineTensors inline = assigned.task().getParameters();
    return InlineParameters.decode(inline.getManifest(), inline.getData(), ParameterDecoder.HEAP);
  }

  /** Sends an update inline on the control stream, as its header and data. */
  void sendInline(long round, UploadHeader header, ByteString data) {
    control.send(LearnerMessage.newBuilder()
        .setEnvelope(WireProtocol.envelope(round))
        .setInlineUpdate(InlineUpdate.newBuilder().setHeader(header).setData(data))
        .build());
  }

  /** Sends a correct update inline for a task that carried its parameters inline. */
  void fitInline(Assigned assigned) {
    EncodedParameters encoded = EncodedParameters.encode(fit(inlineParameters(assigned)));
    sendInline(assigned.round(), header(assigned, encoded.manifest()).build(),
        InlineParameters.data(encoded));
  }

  /** Connects, says hello with the given envelope and returns the status the stream ends with. */
  static Status helloStatus(int port, Envelope envelope) throws InterruptedException {
    try (RawLearner learner = new RawLearner(port, 0f, 1)) {
      learner.control.send(LearnerMessage.newBuilder()
          .setEnvelope(envelope)
          .setHello(Hello.newBuilder().setLearnerName("hello-" + envelope.getProtocolVersion()))
          .build());
      return learner.control.awaitError();
    }
  }

  String id() {
    return id;
  }

  ManagedChannel channel() {
    return channel;
  }

  /** Sends any message on this learner's control stream. */
  void send(LearnerMessage message) {
    control.send(message);
  }

  AggregatorMessage nextMessage() throws InterruptedException {
    return control.next(20);
  }

  /** Waits for the next task. */
  Assigned nextTask() throws InterruptedException {
    AggregatorMessage message = nextMessage();
    if (!message.hasTask()) {
      throw new AssertionError("expected a task but got " + message);
    }
    return new Assigned(message.getEnvelope().getRound(), message.getTask());
  }

  DownloadRequest downloadRequest(Assigned assigned) {
    return DownloadRequest.newBuilder()
        .setEnvelope(WireProtocol.envelope(assigned.round()))
        .setLearnerId(id)
        .setTaskId(assigned.taskId())
        .setCapability(assigned.task().getCapability())
        .build();
  }

  /** Downloads a task's parameters, validating them like a learner does. */
  Parameters download(Assigned assigned) {
    Iterator<ParameterMessage> messages = FederationGrpc.newBlockingStub(channel)
        .withMaxInboundMessageSize(WireProtocol.MAX_MESSAGE_BYTES)
        .downloadParameters(downloadRequest(assigned));
    ParameterDecoder decoder = new ParameterDecoder(messages.next().getManifest());
    messages.forEachRemaining(message -> decoder.accept(message.getChunk()));
    return decoder.finish(true);
  }

  /** Sends a download request and returns how the stream ended (OK after draining it). */
  Status downloadStatus(DownloadRequest request) {
    try {
      FederationGrpc.newBlockingStub(channel)
          .withMaxInboundMessageSize(WireProtocol.MAX_MESSAGE_BYTES)
          .downloadParameters(request)
          .forEachRemaining(message -> { });
      return Status.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus().withCause(e); // the cause's trailers carry the code (WireError.of)
    }
  }

  /** What this learner's fit makes of the global parameters. */
  Parameters fit(Parameters global) {
    return FakeTrainer.add(global, offset);
  }

  float offset() {
    return offset;
  }

  long examples() {
    return examples;
  }

  /** The header of a correct upload of {@code encoded} for a task. */
  UploadHeader.Builder header(Assigned assigned, Manifest manifest) {
    return UploadHeader.newBuilder()
        .setLearnerId(id)
        .setTaskId(assigned.taskId())
        .setCapability(assigned.task().getCapability())
        .setNumExamples(examples)
        .setManifest(manifest);
  }

  /** A correct upload of {@code update} for a task: its header, then its chunks. */
  List<UploadMessage> uploadMessages(Assigned assigned, Parameters update) {
    EncodedParameters encoded = EncodedParameters.encode(update, CHUNK_BYTES);
    List<UploadMessage> messages = new ArrayList<>();
    messages.add(headerMessage(assigned.round(), header(assigned, encoded.manifest()).build()));
    for (int i = 0; i < encoded.chunks().size(); i++) {
      messages.add(UploadMessage.newBuilder()
          .setEnvelope(WireProtocol.envelope(assigned.round()))
          .setChunk(encoded.chunk(i))
          .build());
    }
    return messages;
  }

  static UploadMessage headerMessage(long round, UploadHeader header) {
    return UploadMessage.newBuilder()
        .setEnvelope(WireProtocol.envelope(round))
        .setHeader(header)
        .build();
  }

  /** Starts an upload and sends {@code messages} without closing it. */
  OpenUpload openUpload(List<UploadMessage> messages) {
    OpenUpload upload = new OpenUpload(channel);
    messages.forEach(upload.out::onNext);
    return upload;
  }

  /** Sends {@code messages} as one upload, half-closes and returns how the upload ended. */
  Status upload(List<UploadMessage> messages) throws Exception {
    OpenUpload upload = openUpload(messages);
    return upload.complete();
  }

  /** Downloads, fits and uploads correctly; fails the test if the upload is not accepted. */
  void fitCorrectly(Assigned assigned) throws Exception {
    Status status = upload(uploadMessages(assigned, fit(download(assigned))));
    if (!status.isOk()) {
      throw new AssertionError("a correct upload was refused: " + status);
    }
  }

  /**
   * Serves every further task correctly on a thread, until the aggregator says shut down.
   *
   * @return completes when the aggregator shut this learner down
   */
  CompletableFuture<Void> serveTheRest() {
    return serveTheRest(assigned -> correctEvaluation());
  }

  /**
   * Like {@link #serveTheRest()}, answering each evaluate task with the result {@code evaluation}
   * gives for it (its task id is filled in), whatever a test wants to report.
   */
  CompletableFuture<Void> serveTheRest(Function<Assigned, EvaluateResult.Builder> evaluation) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    Thread thread = new Thread(() -> {
      try {
        while (true) {
          AggregatorMessage message = nextMessage();
          if (message.hasShutdown()) {
            control.close();
            done.complete(null);
            return;
          }
          Assigned assigned = new Assigned(message.getEnvelope().getRound(), message.getTask());
          if (assigned.task().getKind() == TaskKind.FIT) {
            fitCorrectly(assigned);
          } else {
            evaluate(assigned, evaluation.apply(assigned));
          }
        }
      } catch (Throwable t) {
        done.completeExceptionally(t);
      }
    }, "raw-" + id);
    thread.setDaemon(true);
    thread.start();
    return done;
  }

  void evaluate(Assigned assigned) {
    evaluate(assigned, correctEvaluation());
  }

  private EvaluateResult.Builder correctEvaluation() {
    return EvaluateResult.newBuilder().setLoss(1.0).setNumExamples(examples);
  }

  /** Sends {@code result} as the evaluation of a task, with the task's id filled in. */
  void evaluate(Assigned assigned, EvaluateResult.Builder result) {
    control.send(LearnerMessage.newBuilder()
        .setEnvelope(WireProtocol.envelope(assigned.round()))
        .setEvaluateResult(result.setTaskId(assigned.taskId()))
        .build());
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  /** An upload stream left open so a test can interleave it with others. */
  static final class OpenUpload {
    private final CompletableFuture<Status> outcome = new CompletableFuture<>();
    private final StreamObserver<UploadMessage> out;

    OpenUpload(ManagedChannel channel) {
      out = FederationGrpc.newStub(channel).uploadUpdate(new StreamObserver<>() {
        @Override
        public void onNext(UploadReceipt receipt) {
          outcome.complete(Status.OK);
        }

        @Override
        public void onError(Throwable t) {
          // The exception as the cause: its trailers carry the refusal's code (WireError.of).
          outcome.complete(Status.fromThrowable(t).withCause(t));
        }

        @Override
        public void onCompleted() {
          outcome.complete(Status.OK);
        }
      });
    }

    void send(UploadMessage message) {
      out.onNext(message);
    }

    /** Half-closes and waits for the receipt or the refusal. */
    Status complete() throws Exception {
      out.onCompleted();
      return outcome.get(20, TimeUnit.SECONDS);
    }

    /** Waits for the aggregator to end the upload while it is still open on this side. */
    Status awaitEnd() throws Exception {
      return outcome.get(20, TimeUnit.SECONDS);
    }
  }
}
