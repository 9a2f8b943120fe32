package dev.flops.aggregator;

import static dev.flops.aggregator.HostileFederation.RoundOne.HOSTILE_ALREADY_UPLOADED;
import static dev.flops.aggregator.HostileFederation.RoundOne.HOSTILE_TASK_FAILED;
import static dev.flops.aggregator.HostileFederation.RoundOne.HOSTILE_UPLOADS_CORRECTLY;
import static dev.flops.aggregator.HostileFederation.roundOneFailure;
import static io.grpc.Status.Code.ALREADY_EXISTS;
import static io.grpc.Status.Code.FAILED_PRECONDITION;
import static io.grpc.Status.Code.INVALID_ARGUMENT;
import static io.grpc.Status.Code.NOT_FOUND;
import static io.grpc.Status.Code.PERMISSION_DENIED;
import static io.grpc.Status.Code.RESOURCE_EXHAUSTED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.proto.codec.EncodedParameters;
import dev.flops.proto.codec.WireError;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.v1.Chunk;
import dev.flops.proto.v1.DownloadRequest;
import dev.flops.proto.v1.Envelope;
import dev.flops.proto.v1.FederationGrpc;
import dev.flops.proto.v1.Manifest;
import dev.flops.proto.v1.TaskKind;
import dev.flops.proto.v1.TensorSpec;
import dev.flops.proto.v1.UploadHeader;
import dev.flops.proto.v1.UploadMessage;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Hostile or broken input, one test each, over real gRPC on loopback against a real aggregator:
 * a hand-driven learner sends what a well-behaved learner never would. Every test checks the
 * gRPC status code, that the description names the problem, that round 1 aggregated exactly the
 * legitimate updates (nothing refused was folded, even partly), and that the aggregator then runs
 * round 2 with every learner ({@link HostileFederation#finish}).
 *
 * <p>The global model is {@code dense_W FLOAT32[30, 20]} and {@code dense_b FLOAT32[20]}: 2,480
 * bytes, uploaded by the hand-driven learners in ten chunks of 256 bytes (the last holds 176).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@DisplayName("Hostile input: refused with a clear status, nothing folded, the federation goes on")
class HostileInputTest {
  private static final int LAST_CHUNK = 9;

  static void assertRefused(Status status, Status.Code code, String... parts) {
    assertEquals(code, status.getCode(), status::toString);
    // What a learner decides by is the code in the trailers, never the description.
    WireError wireCode = WireError.of(status.getCause()).orElseThrow(
        () -> new AssertionError("no flops-error code in the trailers: " + status));
    assertEquals(code, wireCode.statusCode(), wireCode::name);
    String description = status.getDescription();
    assertTrue(description != null && description.length() <= 1100,
        () -> "a short description: " + status);
    for (String part : parts) {
      assertTrue(description.contains(part), () -> "'" + part + "' missing from: " + status);
    }
  }

  /** The hostile learner's correct upload: header, then ten chunks. */
  static List<UploadMessage> correctUpload(HostileFederation f) {
    return new ArrayList<>(f.hostile.uploadMessages(f.hostileTask, f.hostileUpdate()));
  }

  static UploadMessage withEnvelope(UploadMessage message, int version, long round) {
    return message.toBuilder()
        .setEnvelope(Envelope.newBuilder().setProtocolVersion(version).setRound(round))
        .build();
  }

  static UploadMessage withChunk(UploadMessage message, long index, ByteString data) {
    return message.toBuilder().setChunk(Chunk.newBuilder().setIndex(index).setData(data)).build();
  }

  static UploadMessage withManifest(UploadMessage header, UnaryOperator<Manifest.Builder> edit) {
    UploadMessage.Builder message = header.toBuilder();
    Manifest.Builder manifest = message.getHeaderBuilder().getManifestBuilder();
    message.getHeaderBuilder().setManifest(edit.apply(manifest));
    return message.build();
  }

  /**
   * Sends the hostile learner's correct round 1 upload, edited; expects {@code code} and a
   * description naming the problem, then lets the federation finish. When the refusal costs the
   * task, the round's failure carries the same reason.
   */
  static void assertUploadRefused(Consumer<List<UploadMessage>> edit, Status.Code code,
      HostileFederation.RoundOne roundOne, String... described) throws Exception {
    TrainingResult result = assertRefusedThenFinish(f -> {
      List<UploadMessage> upload = correctUpload(f);
      edit.accept(upload);
      return f.hostile.upload(upload);
    }, code, roundOne, described);
    if (roundOne == HOSTILE_TASK_FAILED) {
      assertTrue(roundOneFailure(result).contains(described[0]), roundOneFailure(result));
    }
  }

  /**
   * Asks for the hostile learner's round 1 parameters with another envelope; expects
   * FAILED_PRECONDITION naming the problem, then a correct download and upload.
   */
  static void assertDownloadRefused(Envelope envelope, String... described) throws Exception {
    assertRefusedThenFinish(f -> f.hostile.downloadStatus(
            f.hostile.downloadRequest(f.hostileTask).toBuilder().setEnvelope(envelope).build()),
        FAILED_PRECONDITION, HOSTILE_UPLOADS_CORRECTLY, described);
  }

  /** What a test makes the hostile learner send, and how the aggregator answered. */
  interface HostileCall {
    Status send(HostileFederation f) throws Exception;
  }

  /**
   * Runs round 1 until the hostile call is answered with {@code code} and a description naming
   * the problem, then checks the rest of the federation ({@link HostileFederation#finish}).
   */
  static TrainingResult assertRefusedThenFinish(UnaryOperator<Aggregator.Builder> knobs,
      HostileCall call, Status.Code code, HostileFederation.RoundOne roundOne,
      String... described) throws Exception {
    try (HostileFederation f = HostileFederation.start(knobs)) {
      assertRefused(call.send(f), code, described);
      return f.finish(roundOne);
    }
  }

  static TrainingResult assertRefusedThenFinish(HostileCall call, Status.Code code,
      HostileFederation.RoundOne roundOne, String... described) throws Exception {
    return assertRefusedThenFinish(builder -> builder, call, code, roundOne, described);
  }

  /** Edits the header, the first message of an upload. */
  static void editHeader(List<UploadMessage> upload, UnaryOperator<UploadHeader.Builder> edit) {
    UploadMessage header = upload.get(0);
    upload.set(0, header.toBuilder().setHeader(edit.apply(header.getHeader().toBuilder())).build());
  }

  @Nested
  @DisplayName("1. wrong protocol version")
  class ProtocolVersion {

    @ParameterizedTest(name = "Hello speaking v{0} is refused")
    @ValueSource(ints = {0, 2, 99})
    void hello(int version) throws Exception {
      assertRefusedThenFinish(f -> RawLearner.helloStatus(
              f.port(), Envelope.newBuilder().setProtocolVersion(version).build()),
          FAILED_PRECONDITION, HOSTILE_UPLOADS_CORRECTLY,
          "protocol version mismatch", "v" + version, "v" + WireProtocol.VERSION);
    }

    @Test
    @DisplayName("a download request speaking v2 is refused")
    void downloadRequest() throws Exception {
      assertDownloadRefused(Envelope.newBuilder().setProtocolVersion(2).setRound(1).build(),
          "protocol version mismatch", "v2", "v1");
    }

    @Test
    @DisplayName("an upload header speaking v2 is refused; the task is not harmed")
    void uploadHeader() throws Exception {
      assertUploadRefused(upload -> upload.set(0, withEnvelope(upload.get(0), 2, 1)),
          FAILED_PRECONDITION, HOSTILE_UPLOADS_CORRECTLY, "protocol version mismatch", "v2", "v1");
    }

    @Test
    @DisplayName("a chunk speaking v2 inside an upload is refused; the upload's task fails")
    void uploadChunk() throws Exception {
      assertUploadRefused(upload -> upload.set(5, withEnvelope(upload.get(5), 2, 1)),
          FAILED_PRECONDITION, HOSTILE_TASK_FAILED, "protocol version mismatch", "v2", "v1");
    }
  }

  @Nested
  @DisplayName("2. a message for another round")
  class OtherRound {

    @ParameterizedTest(name = "a download for round {0} during round 1 is refused")
    @ValueSource(longs = {0, 2, 1000})
    void download(long round) throws Exception {
      assertDownloadRefused(WireProtocol.envelope(round),
          "message is for round " + round, "is in round 1");
    }

    @ParameterizedTest(name = "an upload header for round {0} during round 1 is refused")
    @ValueSource(longs = {0, 2, 1000})
    void uploadHeader(long round) throws Exception {
      assertUploadRefused(
          upload -> upload.set(0, withEnvelope(upload.get(0), WireProtocol.VERSION, round)),
          FAILED_PRECONDITION, HOSTILE_UPLOADS_CORRECTLY,
          "message is for round " + round, "is in round 1");
    }

    @ParameterizedTest(name = "a chunk for round {0} inside a round 1 upload is refused")
    @ValueSource(longs = {0, 2})
    void uploadChunk(long round) throws Exception {
      assertUploadRefused(
          upload -> upload.set(5, withEnvelope(upload.get(5), WireProtocol.VERSION, round)),
          FAILED_PRECONDITION, HOSTILE_TASK_FAILED,
          "chunk 4 is for round " + round, "the upload is for round 1");
    }

    @Test
    @DisplayName("a round 1 task replayed in round 2 is refused as ended")
    void taskOfAnEndedRound() throws Exception {
      try (HostileFederation f = HostileFederation.start()) {
        List<UploadMessage> roundOneUpload = correctUpload(f);
        assertTrue(f.hostile.upload(roundOneUpload).isOk());
        f.releaseHeld();
        RawLearner.Assigned evaluate = f.hostile.nextTask();
        assertEquals(TaskKind.EVALUATE, evaluate.task().getKind());
        f.hostile.evaluate(evaluate);
        RawLearner.Assigned roundTwo = f.hostile.nextTask();
        assertEquals(2, roundTwo.round());

        Status replayed = f.hostile.upload(roundOneUpload);
        assertRefused(replayed, NOT_FOUND,
            "no pending task '" + f.hostileTask.taskId() + "'", "has ended");
        List<UploadMessage> relabelled = new ArrayList<>();
        roundOneUpload.forEach(m -> relabelled.add(withEnvelope(m, WireProtocol.VERSION, 2)));
        assertRefused(f.hostile.upload(relabelled), NOT_FOUND,
            "no pending task '" + f.hostileTask.taskId() + "'");
        assertRefused(f.hostile.downloadStatus(f.hostile.downloadRequest(f.hostileTask)),
            NOT_FOUND, "no pending task '" + f.hostileTask.taskId() + "'");

        f.hostile.fitCorrectly(roundTwo);
        f.finish(HOSTILE_ALREADY_UPLOADED);
      }
    }
  }

  /** Updates whose structure differs from the global model's at the same byte size or less. */
  enum Mismatch {
    RENAMED("dense_b renamed",
        p -> Parameters.of(p.get("dense_W"), floats("bias", p.get("dense_b"), 20)),
        "tensor #1: expected dense_b FLOAT32[20] but the update has bias FLOAT32[20]"),
    RESHAPED("dense_W transposed",
        p -> Parameters.of(floats("dense_W", p.get("dense_W"), 20, 30), p.get("dense_b")),
        "tensor #0: expected dense_W FLOAT32[30, 20] but the update has dense_W FLOAT32[20, 30]"),
    FLATTENED("dense_W flattened",
        p -> Parameters.of(floats("dense_W", p.get("dense_W"), 600), p.get("dense_b")),
        "tensor #0: expected dense_W FLOAT32[30, 20] but the update has dense_W FLOAT32[600]"),
    OTHER_DTYPE("dense_b as INT32",
        p -> Parameters.of(p.get("dense_W"), new Tensor("dense_b", DType.INT32, new long[] {20},
            ByteBuffer.allocate(80).order(ByteOrder.LITTLE_ENDIAN))),
        "tensor #1: expected dense_b FLOAT32[20] but the update has dense_b INT32[20]"),
    MISSING_TENSOR("dense_b left out", p -> Parameters.of(p.get("dense_W")),
        "expected 2 tensors [dense_W, dense_b] but the update has 1 [dense_W]"),
    SWAPPED("tensors in the other order", p -> Parameters.of(p.get("dense_b"), p.get("dense_W")),
        "tensor #0: expected dense_W FLOAT32[30, 20] but the update has dense_b FLOAT32[20]"),
    LONG_NAME("dense_b renamed to 100,000 characters",
        p -> Parameters.of(p.get("dense_W"),
            floats("x".repeat(100_000), p.get("dense_b"), 20)),
        "tensor #1: expected dense_b FLOAT32[20] but the update has xxxx", "(100000 chars)");

    final String what;
    final UnaryOperator<Parameters> change;
    final String[] described;

    Mismatch(String what, UnaryOperator<Parameters> change, String... described) {
      this.what = what;
      this.change = change;
      this.described = described;
    }

    @Override
    public String toString() {
      return what;
    }

    private static Tensor floats(String name, Tensor like, long... shape) {
      return Tensor.ofFloats(name, shape, like.toFloatArray());
    }
  }

  @Nested
  @DisplayName("3. manifest names, shapes or dtypes that differ from the global model")
  class ManifestMismatch {

    @ParameterizedTest(name = "{0}: refused")
    @EnumSource(Mismatch.class)
    void refused(Mismatch mismatch) throws Exception {
      List<String> parts = new ArrayList<>(List.of("does not match the global model"));
      Collections.addAll(parts, mismatch.described);
      TrainingResult result = assertRefusedThenFinish(f -> f.hostile.upload(
              f.hostile.uploadMessages(f.hostileTask, mismatch.change.apply(f.hostileUpdate()))),
          INVALID_ARGUMENT, HOSTILE_TASK_FAILED, parts.toArray(String[]::new));
      assertTrue(roundOneFailure(result).contains(mismatch.described[0]));
    }
  }

  @Nested
  @DisplayName("4. NaN or infinite values in an update")
  class NonFinite {

    @ParameterizedTest(name = "{0} at dense_W[123]: refused")
    @ValueSource(floats = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY})
    void refused(float value) throws Exception {
      TrainingResult result = assertRefusedThenFinish(f -> {
        float[] weights = f.hostileUpdate().get("dense_W").toFloatArray();
        weights[123] = value;
        Parameters update = Parameters.of(
            Tensor.ofFloats("dense_W", new long[] {30, 20}, weights), f.hostileUpdate().get("dense_b"));
        // Encoded with a matching checksum: only the finiteness check can catch it.
        return f.hostile.upload(f.hostile.uploadMessages(f.hostileTask, update));
      }, INVALID_ARGUMENT, HOSTILE_TASK_FAILED,
          "tensor 'dense_W' holds a non-finite value (" + value + ") at element 123");
      assertTrue(roundOneFailure(result).contains("non-finite value (" + value + ")"));
    }
  }

  @Nested
  @DisplayName("5. a missing, duplicate or out-of-order chunk")
  class ChunkSequence {

    @Test
    @DisplayName("a chunk left out in the middle is refused")
    void missingChunk() throws Exception {
      assertChunksRefused(upload -> upload.remove(1 + 3), "expected chunk 3 but got chunk 4");
    }

    @Test
    @DisplayName("an upload that ends before its last chunk is refused")
    void missingLastChunk() throws Exception {
      assertChunksRefused(upload -> upload.remove(1 + LAST_CHUNK),
          "the stream ended after 2304 of 2480 bytes (9 chunks)");
    }

    @Test
    @DisplayName("a chunk sent twice is refused")
    void duplicateChunk() throws Exception {
      assertChunksRefused(upload -> upload.add(1 + 4, upload.get(1 + 3)),
          "expected chunk 4 but got chunk 3", "each once");
    }

    @Test
    @DisplayName("two chunks swapped are refused")
    void outOfOrderChunk() throws Exception {
      assertChunksRefused(upload -> Collections.swap(upload, 1 + 3, 1 + 4),
          "expected chunk 3 but got chunk 4", "in order");
    }
  }

  @Nested
  @DisplayName("6. a chunk beyond the manifest's size")
  class BeyondTheManifest {

    @Test
    @DisplayName("an eleventh chunk after the last one is refused")
    void chunkAfterTheLast() throws Exception {
      assertChunksRefused(upload -> upload.add(withChunk(upload.get(1), LAST_CHUNK + 1,
          ByteString.copyFrom(new byte[256]))), "chunk 10 is beyond the manifest's 2480 bytes");
    }

    @Test
    @DisplayName("a last chunk longer than the bytes left is refused")
    void lastChunkTooLong() throws Exception {
      assertChunksRefused(upload -> {
        UploadMessage last = upload.get(1 + LAST_CHUNK);
        ByteString padded = last.getChunk().getData().concat(ByteString.copyFrom(new byte[80]));
        upload.set(1 + LAST_CHUNK, withChunk(last, LAST_CHUNK, padded));
      }, "chunk 9 holds 256 bytes but must hold 176");
    }
  }

  @Nested
  @DisplayName("7. a checksum mismatch")
  class Checksum {

    @Test
    @DisplayName("one flipped bit in a chunk fails the checksum")
    void flippedBit() throws Exception {
      assertChunksRefused(upload -> {
        UploadMessage chunk = upload.get(1 + 5);
        byte[] data = chunk.getChunk().getData().toByteArray();
        data[17] ^= 0x01;
        upload.set(1 + 5, withChunk(chunk, 5, ByteString.copyFrom(data)));
      }, "checksum mismatch");
    }

    @Test
    @DisplayName("a manifest announcing another checksum fails it")
    void wrongManifestChecksum() throws Exception {
      assertChunksRefused(upload -> upload.set(0,
              withManifest(upload.get(0), m -> m.setCrc32C(m.getCrc32C() ^ 0x5a5a))),
          "checksum mismatch", "the manifest says CRC32C");
    }
  }

  /** Sends the hostile learner's correct upload, edited; expects INVALID_ARGUMENT naming it. */
  static void assertChunksRefused(Consumer<List<UploadMessage>> edit, String... described)
      throws Exception {
    assertUploadRefused(edit, INVALID_ARGUMENT, HOSTILE_TASK_FAILED, described);
  }

  @Nested
  @DisplayName("8. an oversize manifest")
  class Oversize {

    @Test
    @DisplayName("100,000 tensors: refused by the default tensor limit before any allocation")
    void tensorCountAboveTheGlobalModel() throws Exception {
      assertHeaderRefused(builder -> builder, oneFloatTensors(100_000), RESOURCE_EXHAUSTED,
          "declares 100000 tensors but at most 2 are accepted", "the global model has 2");
    }

    @Test
    @DisplayName("one tensor more than the global model: refused by the tensor limit")
    void oneTensorTooMany() throws Exception {
      Manifest manifest = EncodedParameters.encode(Parameters.of(
          Tensor.ofFloats("dense_W", new long[] {30, 20}, new float[600]),
          Tensor.ofFloats("dense_b", new long[] {20}, new float[20]),
          Tensor.ofFloats("extra", new long[] {1}, new float[1])), 256).manifest();
      assertHeaderRefused(builder -> builder, manifest, RESOURCE_EXHAUSTED,
          "declares 3 tensors but at most 2 are accepted");
    }

    @Test
    @DisplayName("shapes needing 2.4 MB: refused as unlike the global model, naming the tensor")
    void shapesAboveTheGlobalModelSize() throws Exception {
      Manifest manifest = Manifest.newBuilder().setChunkSize(256).setTotalBytes(2_400_080)
          .addTensors(spec("dense_W", 30, 20_000))
          .addTensors(spec("dense_b", 20))
          .build();
      assertHeaderRefused(builder -> builder, manifest, INVALID_ARGUMENT,
          "tensor #0: expected dense_W FLOAT32[30, 20] but the update has dense_W FLOAT32[30, 20000]");
    }

    @Test
    @DisplayName("two tensors of 1 GiB each: refused without allocating them")
    void gigabyteTensors() throws Exception {
      long gib = 1L << 30;
      // Refused on the header by the structure check: the buffers are allocated only after it.
      Manifest manifest = Manifest.newBuilder().setChunkSize(256).setTotalBytes(2 * gib)
          .addTensors(spec("dense_W", gib / 4))
          .addTensors(spec("dense_b", gib / 4))
          .build();
      assertHeaderRefused(builder -> builder, manifest, INVALID_ARGUMENT,
          "tensor #0: expected dense_W FLOAT32[30, 20] but the update has dense_W FLOAT32[268435456]");
    }

    @ParameterizedTest(name = "total_bytes {0} over the right shapes: refused by the byte limit")
    @ValueSource(longs = {2481, 1L << 40, -1L})
    void totalBytesAboveTheGlobalModelSize(long totalBytes) throws Exception {
      Manifest manifest = Manifest.newBuilder().setChunkSize(256).setTotalBytes(totalBytes)
          .addTensors(spec("dense_W", 30, 20))
          .addTensors(spec("dense_b", 20))
          .build();
      assertHeaderRefused(builder -> builder, manifest, RESOURCE_EXHAUSTED,
          "declares " + Long.toUnsignedString(totalBytes) + " bytes but at most 2480");
    }

    @Test
    @DisplayName("a configured maxTensorCount is named when exceeded")
    void configuredTensorLimit() throws Exception {
      assertHeaderRefused(builder -> builder.maxTensorCount(5), oneFloatTensors(6),
          RESOURCE_EXHAUSTED, "declares 6 tensors but at most 5 are accepted (maxTensorCount)");
    }

    @Test
    @DisplayName("a configured maxUpdateBytes is named when exceeded")
    void configuredByteLimit() throws Exception {
      Manifest manifest = Manifest.newBuilder().setChunkSize(256).setTotalBytes(16_384)
          .addTensors(spec("dense_W", 30, 20))
          .addTensors(spec("dense_b", 20))
          .build();
      assertHeaderRefused(builder -> builder.maxUpdateBytes(4096), manifest,
          RESOURCE_EXHAUSTED, "declares 16384 bytes but at most 4096 are accepted (maxUpdateBytes)");
    }

    @Test
    @DisplayName("within a configured limit, a structure unlike the model is still refused")
    void withinConfiguredLimitButMismatched() throws Exception {
      assertHeaderRefused(builder -> builder.maxTensorCount(5), oneFloatTensors(3),
          INVALID_ARGUMENT, "does not match the global model", "expected 2 tensors");
    }

    @Test
    @DisplayName("limits below the global model fail training at its start, naming the knob")
    void limitsBelowTheGlobalModel() {
      for (UnaryOperator<Aggregator.Builder> knob : List.<UnaryOperator<Aggregator.Builder>>of(
          b -> b.maxTensorCount(1), b -> b.maxUpdateBytes(2479))) {
        TrainingPlan plan = TrainingPlan.builder().rounds(1).build();
        FedAvg strategy = FedAvg.builder().build();
        try (Aggregator aggregator = knob.apply(Aggregator.builder().host("127.0.0.1").port(0)
            .model(new ArrayModel(Federations.randomParameters(7, false)))).build().start()) {
          TrainingException e = assertThrows(TrainingException.class,
              () -> aggregator.train(plan, strategy));
          assertTrue(e.getMessage().matches(
              ".*(maxTensorCount 1 is below the global model's 2 tensors"
                  + "|maxUpdateBytes 2479 is below the global model's 2480 bytes).*"),
              e.getMessage());
        } catch (java.io.IOException e) {
          throw new AssertionError(e);
        }
      }
    }

    @Test
    @DisplayName("the limit knobs reject non-positive values, naming knob and value")
    void knobsValidated() {
      IllegalArgumentException count = assertThrows(IllegalArgumentException.class,
          () -> Aggregator.builder().maxTensorCount(0));
      assertEquals("maxTensorCount must be positive but was 0", count.getMessage());
      IllegalArgumentException bytes = assertThrows(IllegalArgumentException.class,
          () -> Aggregator.builder().maxUpdateBytes(-5));
      assertEquals("maxUpdateBytes must be positive but was -5", bytes.getMessage());
    }

    /** A well-formed manifest of {@code count} tensors holding one float each. */
    private static Manifest oneFloatTensors(int count) {
      Manifest.Builder manifest = Manifest.newBuilder().setChunkSize(256).setTotalBytes(4L * count);
      for (int i = 0; i < count; i++) {
        manifest.addTensors(spec("t" + i, 1));
      }
      return manifest.build();
    }

    private static TensorSpec spec(String name, long... shape) {
      TensorSpec.Builder spec = TensorSpec.newBuilder().setName(name)
          .setDtype(dev.flops.proto.v1.DType.FLOAT32);
      for (long dim : shape) {
        spec.addShape(dim);
      }
      return spec.build();
    }

    /** Sends only a header with {@code manifest}; the refusal must come before any chunk. */
    private static void assertHeaderRefused(UnaryOperator<Aggregator.Builder> knobs,
        Manifest manifest, Status.Code code, String... described) throws Exception {
      TrainingResult result = assertRefusedThenFinish(knobs,
          f -> f.hostile.openUpload(List.of(RawLearner.headerMessage(f.hostileTask.round(),
              f.hostile.header(f.hostileTask, manifest).build()))).awaitEnd(),
          code, HOSTILE_TASK_FAILED, described);
      assertTrue(roundOneFailure(result).contains(described[0]), roundOneFailure(result));
    }
  }

  @Nested
  @DisplayName("9. garbage bytes where a message is expected")
  class Garbage {
    /** A tag with wire type 7, which does not exist. */
    private static final byte[] INVALID_WIRE_TYPE = {(byte) 0xFF, (byte) 0xFF, 0x0F, 1, 2, 3};
    /** Field 1 announcing 127 bytes and holding one. */
    private static final byte[] TRUNCATED = {0x0A, 0x7F, 0x01};

    @ParameterizedTest(name = "garbage on Connect ({0})")
    @ValueSource(strings = {"invalid wire type", "truncated"})
    void onConnect(String kind) throws Exception {
      assertGarbageRefused(FederationGrpc.getConnectMethod(), kind, "LearnerMessage");
    }

    @ParameterizedTest(name = "garbage on DownloadParameters ({0})")
    @ValueSource(strings = {"invalid wire type", "truncated"})
    void onDownloadParameters(String kind) throws Exception {
      assertGarbageRefused(FederationGrpc.getDownloadParametersMethod(), kind, "DownloadRequest");
    }

    @ParameterizedTest(name = "garbage as the first message of UploadUpdate ({0})")
    @ValueSource(strings = {"invalid wire type", "truncated"})
    void onUploadUpdate(String kind) throws Exception {
      assertGarbageRefused(FederationGrpc.getUploadUpdateMethod(), kind, "UploadMessage");
    }

    private static void assertGarbageRefused(MethodDescriptor<?, ?> method, String kind,
        String requestType) throws Exception {
      assertRefusedThenFinish(
          f -> rawCall(f, method, kind.equals("truncated") ? TRUNCATED : INVALID_WIRE_TYPE),
          INVALID_ARGUMENT, HOSTILE_UPLOADS_CORRECTLY, method.getFullMethodName()
              + " received bytes that are not a valid " + requestType + " message");
    }

    /**
     * Before the guard, grpc-java answered UNKNOWN yet still delivered the half-close, and the
     * aggregator folded the complete update that preceded the garbage.
     */
    @Test
    @DisplayName("garbage after a complete upload: refused, and the update is not folded")
    void afterACompleteUpload() throws Exception {
      TrainingResult result = assertRefusedThenFinish(f -> {
        List<byte[]> messages = new ArrayList<>();
        correctUpload(f).forEach(m -> messages.add(m.toByteArray()));
        messages.add(INVALID_WIRE_TYPE);
        return rawCall(f, FederationGrpc.getUploadUpdateMethod(), messages.toArray(byte[][]::new));
      }, INVALID_ARGUMENT, HOSTILE_TASK_FAILED,
          "UploadUpdate received bytes that are not a valid UploadMessage message");
      assertTrue(roundOneFailure(result).contains("the upload broke off"), roundOneFailure(result));
    }

    private static final MethodDescriptor.Marshaller<byte[]> BYTES =
        new MethodDescriptor.Marshaller<>() {
          @Override
          public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
          }

          @Override
          public byte[] parse(InputStream stream) {
            try {
              return stream.readAllBytes();
            } catch (IOException e) {
              throw new UncheckedIOException(e);
            }
          }
        };

    /** Sends raw bytes as the request messages of {@code method}; returns how the call closed. */
    private static Status rawCall(HostileFederation f, MethodDescriptor<?, ?> method,
        byte[]... messages) throws Exception {
      MethodDescriptor<byte[], byte[]> raw = MethodDescriptor.<byte[], byte[]>newBuilder()
          .setType(method.getType())
          .setFullMethodName(method.getFullMethodName())
          .setRequestMarshaller(BYTES)
          .setResponseMarshaller(BYTES)
          .build();
      ClientCall<byte[], byte[]> call = f.hostile.channel().newCall(raw, CallOptions.DEFAULT);
      CompletableFuture<Status> closed = new CompletableFuture<>();
      call.start(new ClientCall.Listener<>() {
        @Override
        public void onClose(Status status, Metadata trailers) {
          closed.complete(status.withCause(status.asRuntimeException(trailers)));
        }
      }, new Metadata());
      call.request(Integer.MAX_VALUE);
      for (byte[] message : messages) {
        call.sendMessage(message);
      }
      call.halfClose();
      return closed.get(20, TimeUnit.SECONDS);
    }
  }

  @Nested
  @DisplayName("10. an upload from the wrong learner, for the wrong task, or a second one")
  class Identity {

    @Test
    @DisplayName("a learner without a task this round uploads for another's task: refused")
    void learnerWithoutATask() throws Exception {
      try (HostileFederation f = HostileFederation.start()) {
        RawLearner late = f.joinLate("late", 8f, 40);
        List<UploadMessage> upload = correctUpload(f);
        editHeader(upload, h -> h.setLearnerId(late.id()));
        assertRefused(late.upload(upload), PERMISSION_DENIED,
            "task '" + f.hostileTask.taskId() + "' belongs to another learner");
        RawLearner.Assigned stolen = new RawLearner.Assigned(1, f.hostileTask.task());
        assertRefused(late.downloadStatus(late.downloadRequest(stolen)), PERMISSION_DENIED,
            "belongs to another learner");
        f.finish(HOSTILE_UPLOADS_CORRECTLY);
      }
    }

    @Test
    @DisplayName("an upload for a task id that was never given: refused")
    void unknownTask() throws Exception {
      assertUploadRefused(upload -> editHeader(upload, h -> h.setTaskId("r1-fit-999")),
          NOT_FOUND, HOSTILE_UPLOADS_CORRECTLY, "no pending task 'r1-fit-999'", "never existed");
    }

    @Test
    @DisplayName("an upload naming an unknown learner id: refused")
    void unknownLearner() throws Exception {
      assertUploadRefused(upload -> editHeader(upload, h -> h.setLearnerId("learner-999")),
          PERMISSION_DENIED, HOSTILE_UPLOADS_CORRECTLY, "belongs to another learner");
    }

    @Test
    @DisplayName("a second upload after the first was accepted: refused, counted once")
    void secondUploadAfterTheFirst() throws Exception {
      try (HostileFederation f = HostileFederation.start()) {
        List<UploadMessage> upload = correctUpload(f);
        assertTrue(f.hostile.upload(upload).isOk());
        assertRefused(f.hostile.upload(upload), ALREADY_EXISTS,
            f.hostileTask.taskId(), "already has an upload (its result was accepted)",
            "exactly one upload");
        f.finish(HOSTILE_ALREADY_UPLOADED);
      }
    }

    @Test
    @DisplayName("a second upload while the first is streaming: refused, the first goes through")
    void secondUploadDuringTheFirst() throws Exception {
      try (HostileFederation f = HostileFederation.start()) {
        List<UploadMessage> upload = correctUpload(f);
        RawLearner.OpenUpload first = f.hostile.openUpload(upload.subList(0, 5));
        // The second one races the first's header; whichever the aggregator reads first wins.
        Status second = f.hostile.upload(upload);
        upload.subList(5, upload.size()).forEach(first::send);
        Status firstStatus = first.complete();
        Status refused = second.isOk() ? firstStatus : second;
        assertTrue(second.isOk() != firstStatus.isOk(), second + " / " + firstStatus);
        assertRefused(refused, ALREADY_EXISTS, "already has an upload", "exactly one upload");
        f.finish(HOSTILE_ALREADY_UPLOADED);
      }
    }
  }
}
