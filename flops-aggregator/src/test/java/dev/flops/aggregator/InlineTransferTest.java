package dev.flops.aggregator;

import static dev.flops.aggregator.HostileFederation.RoundOne.HOSTILE_ALREADY_UPLOADED;
import static dev.flops.aggregator.HostileFederation.RoundOne.HOSTILE_TASK_FAILED;
import static dev.flops.aggregator.HostileFederation.RoundOne.HOSTILE_UPLOADS_CORRECTLY;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.flops.aggregator.internal.FederationService;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.Tensor;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.proto.codec.EncodedParameters;
import dev.flops.proto.codec.InlineParameters;
import dev.flops.proto.v1.AggregatorMessage;
import dev.flops.proto.v1.FederationGrpc;
import dev.flops.proto.v1.TaskRefusal;
import dev.flops.proto.v1.UploadHeader;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.MethodDescriptor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Small models and updates inline on the control stream, over real gRPC on loopback: no download
 * or upload call is made, the result is the same as with the calls, larger parameters and learners
 * that do not offer inline transfers keep the calls, and a forged inline update is refused with
 * its code on the control stream without touching the global model.
 *
 * <p>The model is {@code dense_W FLOAT32[30, 20]} and {@code dense_b FLOAT32[20]}: 2,480 bytes.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class InlineTransferTest {
  private static final int LEARNERS = 3;
  private static final int ROUNDS = 3;
  private static final int MODEL_BYTES = 2480;

  /** Counts the calls the learners start, by method, as a learner's own client interceptor. */
  private static final class CallCounter implements ClientInterceptor {
    final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();

    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
        MethodDescriptor<ReqT, RespT> method, CallOptions options, Channel next) {
      calls.computeIfAbsent(method.getBareMethodName(), m -> new AtomicInteger()).incrementAndGet();
      return next.newCall(method, options);
    }

    int of(MethodDescriptor<?, ?> method) {
      AtomicInteger count = calls.get(method.getBareMethodName());
      return count == null ? 0 : count.get();
    }
  }

  private record Run(TrainingResult result, CallCounter counter) {}

  /** Trains {@value #ROUNDS} rounds with {@value #LEARNERS} real learners, counting their calls. */
  private static Run train(UnaryOperator<Aggregator.Builder> knobs) throws Exception {
    return train(Federations.randomParameters(11, false), knobs);
  }

  private static Run train(Parameters initial, UnaryOperator<Aggregator.Builder> knobs)
      throws Exception {
    CallCounter counter = new CallCounter();
    TrainingPlan plan = TrainingPlan.builder().rounds(ROUNDS).minAvailableLearners(LEARNERS).build();
    try (Aggregator aggregator = knobs.apply(Aggregator.builder()
            .host("127.0.0.1").port(0)
            .model(new ArrayModel(initial)))
        .build()
        .start()) {
      List<CompletableFuture<Void>> learners = new ArrayList<>();
      for (int i = 0; i < LEARNERS; i++) {
        learners.add(Federations.startLearner("learner-" + i, aggregator.port(),
            FakeTrainer.adding(initial, i + 1, 10L * (i + 1)),
            builder -> builder.interceptor(counter)));
      }
      TrainingResult result = aggregator.train(plan, FedAvg.builder().build());
      aggregator.shutdownLearners();
      for (CompletableFuture<Void> learner : learners) {
        learner.get(20, TimeUnit.SECONDS);
      }
      return new Run(result, counter);
    }
  }

  private static void assertEveryRoundComplete(TrainingResult result) {
    assertEquals(ROUNDS, result.rounds().size());
    for (RoundSummary round : result.rounds()) {
      assertEquals(LEARNERS, round.fitSucceeded(), round::toString);
      assertEquals(LEARNERS, round.evaluateSucceeded(), round::toString);
    }
  }

  @Test
  void smallModel_travelsInline_withoutCalls_andAveragesAsTheCallsDo() throws Exception {
    // The reproducible kernel: a sum independent of the order updates arrive in.
    Run inline = train(builder -> builder.reproducibleAggregation(true));
    Run calls = train(builder -> builder.reproducibleAggregation(true).maxInlineBytes(0));

    assertEveryRoundComplete(inline.result());
    assertEveryRoundComplete(calls.result());
    assertEquals(LEARNERS, inline.counter().of(FederationGrpc.getConnectMethod()));
    assertEquals(0, inline.counter().of(FederationGrpc.getDownloadParametersMethod()),
        inline.counter().calls::toString);
    assertEquals(0, inline.counter().of(FederationGrpc.getUploadUpdateMethod()),
        inline.counter().calls::toString);
    // Inline off: every fit uploads by a call and every new global model is downloaded.
    assertEquals(LEARNERS * ROUNDS, calls.counter().of(FederationGrpc.getUploadUpdateMethod()));
    assertTrue(calls.counter().of(FederationGrpc.getDownloadParametersMethod()) >= LEARNERS * ROUNDS,
        calls.counter().calls::toString);
    // Same updates, same order-independent sum: the same global parameters, bit for bit.
    assertEquals(calls.result().finalParameters(), inline.result().finalParameters());
  }

  /** 1 MiB exactly, the default threshold: the messages pass every message-size limit. */
  @Test
  void modelOfExactlyTheDefaultThreshold_travelsInline() throws Exception {
    float[] values = new float[FederationService.DEFAULT_MAX_INLINE_BYTES / 4];
    Arrays.fill(values, 0.5f);
    Run run = train(Parameters.of(Tensor.ofFloats("w", new long[] {values.length}, values)),
        builder -> builder);

    assertEveryRoundComplete(run.result());
    assertEquals(0, run.counter().of(FederationGrpc.getDownloadParametersMethod()));
    assertEquals(0, run.counter().of(FederationGrpc.getUploadUpdateMethod()));
  }

  @Test
  void parametersAboveTheThreshold_keepTheCalls() throws Exception {
    Run run = train(builder -> builder.maxInlineBytes(MODEL_BYTES - 1));

    assertEveryRoundComplete(run.result());
    assertEquals(LEARNERS * ROUNDS, run.counter().of(FederationGrpc.getUploadUpdateMethod()));
    assertTrue(run.counter().of(FederationGrpc.getDownloadParametersMethod()) >= LEARNERS * ROUNDS,
        run.counter().calls::toString);
  }

  @Test
  void thresholdValidated() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Aggregator.builder().maxInlineBytes(InlineParameters.MAX_INLINE_BYTES + 1));
    assertTrue(e.getMessage().contains("maxInlineBytes must be in [0, 4194304]"), e::getMessage);
    assertThrows(IllegalArgumentException.class, () -> Aggregator.builder().maxInlineBytes(-1));
  }

  /**
   * A learner built before inline transfers (its Hello offers none: the hand-driven learners of
   * {@link HostileFederation}) gets tasks without parameters and is welcomed without inline
   * updates, and still takes part through the calls, next to a real learner that goes inline.
   */
  @Test
  void learnerNotOfferingInline_keepsTheCalls() throws Exception {
    try (HostileFederation federation = HostileFederation.start()) {
      assertFalse(federation.hostileTask.task().hasParameters());
      assertFalse(federation.heldTask.task().hasParameters());
      assertEquals(0, federation.hostile.inlineUpdateBytes());
      federation.finish(HOSTILE_UPLOADS_CORRECTLY);
    }
  }

  @Test
  void correctInlineUpdate_isFolded_andASecondOneIsADuplicate() throws Exception {
    try (HostileFederation federation = HostileFederation.startOfferingInline(b -> b)) {
      RawLearner.Assigned task = federation.hostileTask;
      assertEquals(federation.initial, RawLearner.inlineParameters(task));
      assertEquals(FederationService.DEFAULT_MAX_INLINE_BYTES,
          federation.hostile.inlineUpdateBytes());
      federation.hostile.fitInline(task);
      federation.hostile.fitInline(task);
      assertRefusal(federation, "DUPLICATE_UPLOAD", "already has an upload");
      federation.finish(HOSTILE_ALREADY_UPLOADED);
    }
  }

  @Test
  void inlineUpdateWithAnotherCapability_isRefused_andTheTaskStaysItsOwners() throws Exception {
    try (HostileFederation federation = HostileFederation.startOfferingInline(b -> b)) {
      RawLearner.Assigned task = federation.hostileTask;
      sendEdited(federation, task, header -> header.setCapability(ByteString.copyFrom(new byte[32])),
          correctData(task));
      assertRefusal(federation, "CAPABILITY", "does not carry the capability");
      federation.finish(HOSTILE_UPLOADS_CORRECTLY);
    }
  }

  @Test
  void inlineUpdateForAnotherLearnersTask_isRefused_evenWithItsCapability() throws Exception {
    try (HostileFederation federation = HostileFederation.startOfferingInline(b -> b)) {
      RawLearner.Assigned theirs = federation.heldTask;
      // The capability leaked somehow: on this control stream it still authorises nothing.
      UploadHeader header = federation.hostile.header(theirs, encodedUpdate(federation).manifest())
          .setLearnerId(federation.held.id())
          .build();
      federation.hostile.sendInline(theirs.round(), header,
          InlineParameters.data(encodedUpdate(federation)));
      assertRefusal(federation, "CAPABILITY", "belongs to another learner or connection");
      federation.finish(HOSTILE_UPLOADS_CORRECTLY);
    }
  }

  @Test
  void nonFiniteInlineUpdate_isRefused_andFailsTheTask() throws Exception {
    try (HostileFederation federation = HostileFederation.startOfferingInline(b -> b)) {
      float[] values = new float[600];
      values[17] = Float.NaN;
      Parameters update = Parameters.of(Tensor.ofFloats("dense_W", new long[] {30, 20}, values),
          Tensor.ofFloats("dense_b", new long[] {20}, new float[20]));
      sendUpdate(federation, EncodedParameters.encode(update));
      assertRefusal(federation, "NON_FINITE", "NaN");
      federation.finish(HOSTILE_TASK_FAILED);
    }
  }

  @Test
  void inlineUpdateOfAnotherStructure_isRefused_andFailsTheTask() throws Exception {
    try (HostileFederation federation = HostileFederation.startOfferingInline(b -> b)) {
      Parameters update = Parameters.of(Tensor.ofFloats("dense_W", new long[] {20, 30},
          new float[600]), Tensor.ofFloats("dense_b", new long[] {20}, new float[20]));
      sendUpdate(federation, EncodedParameters.encode(update));
      assertRefusal(federation, "MANIFEST_MISMATCH", "does not match the global model");
      federation.finish(HOSTILE_TASK_FAILED);
    }
  }

  @Test
  void inlineUpdateWithAFlippedBit_failsTheChecksum() throws Exception {
    try (HostileFederation federation = HostileFederation.startOfferingInline(b -> b)) {
      RawLearner.Assigned task = federation.hostileTask;
      byte[] data = correctData(task).toByteArray();
      data[100] ^= 0x01;
      sendEdited(federation, task, header -> header, ByteString.copyFrom(data));
      assertRefusal(federation, "CHECKSUM", "checksum mismatch");
      federation.finish(HOSTILE_TASK_FAILED);
    }
  }

  @Test
  void inlineDataShorterThanItsManifest_isMalformed() throws Exception {
    try (HostileFederation federation = HostileFederation.startOfferingInline(b -> b)) {
      RawLearner.Assigned task = federation.hostileTask;
      sendEdited(federation, task, header -> header, correctData(task).substring(4));
      assertRefusal(federation, "MALFORMED_MESSAGE", "holds 2476 bytes but its manifest announces 2480");
      federation.finish(HOSTILE_TASK_FAILED);
    }
  }

  /** Above the threshold an update must be uploaded; inline, it is refused before decoding. */
  @Test
  void inlineUpdateAboveTheThreshold_isRefused() throws Exception {
    try (HostileFederation federation =
        HostileFederation.startOfferingInline(b -> b.maxInlineBytes(MODEL_BYTES - 1))) {
      RawLearner.Assigned task = federation.hostileTask;
      assertFalse(task.task().hasParameters(), "the global model is above the threshold too");
      assertEquals(MODEL_BYTES - 1, federation.hostile.inlineUpdateBytes());
      sendUpdate(federation, EncodedParameters.encode(federation.hostileUpdate()));
      assertRefusal(federation, "LIMIT_EXCEEDED", "at most 2479 bytes", "send it with UploadUpdate");
      federation.finish(HOSTILE_TASK_FAILED);
    }
  }

  private static EncodedParameters encodedUpdate(HostileFederation federation) {
    return EncodedParameters.encode(FakeTrainer.add(federation.initial, 9f));
  }

  private static ByteString correctData(RawLearner.Assigned task) {
    return InlineParameters.data(EncodedParameters.encode(
        FakeTrainer.add(RawLearner.inlineParameters(task), HostileFederation.HOSTILE_OFFSET)));
  }

  /** Sends the hostile learner's correct header, edited, with {@code data}. */
  private static void sendEdited(HostileFederation federation, RawLearner.Assigned task,
      UnaryOperator<UploadHeader.Builder> edit, ByteString data) {
    EncodedParameters correct = EncodedParameters.encode(
        FakeTrainer.add(RawLearner.inlineParameters(task), HostileFederation.HOSTILE_OFFSET));
    federation.hostile.sendInline(task.round(),
        edit.apply(federation.hostile.header(task, correct.manifest())).build(), data);
  }

  /** Sends {@code update} inline for the hostile learner's own task, with a correct header. */
  private static void sendUpdate(HostileFederation federation, EncodedParameters update) {
    RawLearner.Assigned task = federation.hostileTask;
    federation.hostile.sendInline(task.round(),
        federation.hostile.header(task, update.manifest()).build(),
        ByteString.copyFrom(update.chunks()));
  }

  /** The hostile learner's next message is a refusal with this code, describing the problem. */
  private static void assertRefusal(HostileFederation federation, String code, String... parts)
      throws InterruptedException {
    AggregatorMessage message = federation.hostile.nextMessage();
    assertTrue(message.hasTaskRefusal(), message::toString);
    TaskRefusal refusal = message.getTaskRefusal();
    assertEquals(code, refusal.getCode(), refusal::toString);
    for (String part : parts) {
      assertTrue(refusal.getDescription().contains(part),
          () -> "'" + part + "' missing from: " + refusal);
    }
  }
}
