package dev.flops.aggregator;

import static dev.flops.aggregator.HostileFederation.RoundOne.HOSTILE_TASK_FAILED;
import static dev.flops.aggregator.HostileFederation.RoundOne.HOSTILE_UPLOADS_CORRECTLY;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.flops.aggregator.internal.FederationService;
import dev.flops.aggregator.internal.LearnerPool;
import dev.flops.aggregator.internal.LearnerAuthenticator;
import dev.flops.aggregator.internal.MalformedMessageGuard;
import dev.flops.api.Config;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.proto.codec.WireError;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.v1.DownloadRequest;
import dev.flops.proto.v1.Envelope;
import dev.flops.proto.v1.FederationGrpc;
import dev.flops.proto.v1.ParameterMessage;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Refusals carry their {@link WireError} code in the trailers, over real gRPC on loopback; an
 * unexpected exception in the aggregator is answered the same on the control stream and on an
 * upload (INTERNAL, AGGREGATOR_FAULT) and logged once. ({@link HostileInputTest} checks that every
 * one of its refusals carries a code of the status it expects.)
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class WireErrorCodesTest {

  private static Optional<WireError> codeOf(Status status) {
    return WireError.of(status.getCause());
  }

  /**
   * Sends a hostile call in round 1, expects {@code code} (and its status) back, then lets the
   * federation finish with every learner.
   */
  private static void assertCoded(HostileInputTest.HostileCall call, WireError code,
      HostileFederation.RoundOne roundOne) throws Exception {
    try (HostileFederation f = HostileFederation.start()) {
      Status status = call.send(f);
      assertEquals(code.statusCode(), status.getCode(), status::toString);
      assertEquals(Optional.of(code), codeOf(status), status::toString);
      f.finish(roundOne);
    }
  }

  @Test
  void wrongProtocolVersion_comesBackAsProtocolVersion() throws Exception {
    assertCoded(f -> RawLearner.helloStatus(f.port(),
            Envelope.newBuilder().setProtocolVersion(WireProtocol.VERSION + 1).build()),
        WireError.PROTOCOL_VERSION, HOSTILE_UPLOADS_CORRECTLY);
  }

  @Test
  void staleRound_comesBackAsStaleRound_notAsTheSameStatusOfAnotherKind() throws Exception {
    // FAILED_PRECONDITION also stands for PROTOCOL_VERSION, TASK_ENDED, ...: only the code tells.
    assertCoded(f -> f.hostile.downloadStatus(f.hostile.downloadRequest(f.hostileTask)
            .toBuilder().setEnvelope(WireProtocol.envelope(2)).build()),
        WireError.STALE_ROUND, HOSTILE_UPLOADS_CORRECTLY);
  }

  @Test
  void forgedCapability_comesBackAsCapability() throws Exception {
    assertCoded(f -> f.hostile.downloadStatus(f.hostile.downloadRequest(f.hostileTask)
            .toBuilder().setCapability(ByteString.copyFrom(new byte[16])).build()),
        WireError.CAPABILITY, HOSTILE_UPLOADS_CORRECTLY);
  }

  @Test
  void nonFiniteUpload_comesBackAsNonFinite() throws Exception {
    assertCoded(f -> {
      float[] weights = f.hostileUpdate().get("dense_W").toFloatArray();
      weights[7] = Float.NaN;
      Parameters update = Parameters.of(Tensor.ofFloats("dense_W", new long[] {30, 20}, weights),
          f.hostileUpdate().get("dense_b"));
      return f.hostile.upload(f.hostile.uploadMessages(f.hostileTask, update));
    }, WireError.NON_FINITE, HOSTILE_TASK_FAILED);
  }

  @Test
  void strategyThrowsWhileFoldingAnUpload_internalAggregatorFault_loggedOnce() throws Exception {
    FederationService service = new FederationService(2);
    Server server = serve(MalformedMessageGuard.guard(service));
    try (LogCapture log = new LogCapture();
        RawLearner learner = RawLearner.join(server.getPort(), "a", 1f, 10)) {
      service.awaitLearners(1, Duration.ofSeconds(10), Duration.ofSeconds(10));
      Parameters global = Federations.randomParameters(5, false);
      // The application's strategy code, throwing on a valid update.
      service.dispatch(1, LearnerPool.PhaseKind.FIT, global, "run/0",
          List.of(new LearnerPool.Assignment(learner.id(), Config.empty())),
          (learnerId, result) -> {
            throw new IllegalStateException("strategy bug: index 7 out of bounds for length 7");
          });
      RawLearner.Assigned task = learner.nextTask();

      Parameters update = learner.fit(learner.download(task));
      Status status = learner.upload(learner.uploadMessages(task, update));

      assertFault(status, log.text(), "strategy bug: index 7 out of bounds");
    } finally {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void bugOnTheControlStream_internalAggregatorFault_loggedOnce() throws Exception {
    // A bug cannot be provoked through the protocol (every input is validated), so this test
    // plants one: a context value of the wrong type, which makes the service's handling of Hello
    // throw ClassCastException where any bug of that code would surface.
    ServerInterceptor plantBug = new ServerInterceptor() {
      @Override
      @SuppressWarnings({"unchecked", "rawtypes"})
      public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call,
          Metadata headers, ServerCallHandler<ReqT, RespT> next) {
        Context planted = Context.current()
            .withValue((Context.Key) LearnerAuthenticator.AUTHENTICATED_NAME, 42);
        return Contexts.interceptCall(planted, call, headers, next);
      }
    };
    Server server = serve(ServerInterceptors.intercept(
        MalformedMessageGuard.guard(new FederationService(2)), plantBug));
    try (LogCapture log = new LogCapture()) {
      Status status = RawLearner.helloStatus(server.getPort(), WireProtocol.envelope(0));

      assertFault(status, log.text(), "java.lang.ClassCastException");
    } finally {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void exceptionEscapingTheService_answeredByTheGuardAsAFault_notAsGrpcsUnknown() throws Exception {
    // A service that lets an exception escape (FederationService answers its own): left to gRPC,
    // the call would end UNKNOWN "Application error processing RPC" with a SEVERE trace of its own.
    FederationGrpc.FederationImplBase leaky = new FederationGrpc.FederationImplBase() {
      @Override
      public void downloadParameters(DownloadRequest request,
          StreamObserver<ParameterMessage> out) {
        throw new IllegalStateException("escaped: slot table corrupt");
      }
    };
    Server server = serve(MalformedMessageGuard.guard(leaky));
    ManagedChannel channel =
        NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
    try (LogCapture log = new LogCapture()) {
      StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
          () -> FederationGrpc.newBlockingStub(channel).downloadParameters(
              DownloadRequest.newBuilder().setEnvelope(WireProtocol.envelope(1)).build()).next());

      assertFault(refused.getStatus().withCause(refused), log.text(),
          "escaped: slot table corrupt");
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /**
   * Checks the learner's view of a fault (INTERNAL, AGGREGATOR_FAULT, a fault id and not the
   * exception's text) and the aggregator's log: one ERROR line naming that id, the exception's
   * stack trace once, and no other line about it.
   */
  private static void assertFault(Status status, String log, String exceptionText) {
    assertEquals(Status.Code.INTERNAL, status.getCode(), status::toString);
    assertEquals(Optional.of(WireError.AGGREGATOR_FAULT), codeOf(status), status::toString);
    String description = status.getDescription();
    assertFalse(description.contains(exceptionText), description);
    assertTrue(description.contains("not in what this learner sent"), description);
    Matcher id = Pattern.compile("fault ([0-9a-f]{8})").matcher(description);
    assertTrue(id.find(), description);

    List<String> lines = log.lines().toList();
    List<String> errors = lines.stream().filter(line -> line.contains(" ERROR ")).toList();
    assertEquals(1, errors.size(), () -> "one ERROR line: " + errors);
    assertTrue(errors.get(0).contains("aggregator fault " + id.group(1)), errors::toString);
    assertEquals(1, lines.stream().filter(line -> line.contains(id.group(1))).count(),
        () -> "the fault id once in the log:\n" + log);
    assertEquals(1, lines.stream().filter(line -> line.contains(exceptionText)).count(),
        () -> "the stack trace once:\n" + log);
    assertTrue(lines.stream().anyMatch(line -> line.startsWith("\tat ")), "a stack trace:\n" + log);
    assertTrue(lines.stream().noneMatch(line -> line.contains("SEVERE")), log);
  }

  private static Server serve(ServerServiceDefinition service) throws Exception {
    return NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(service).build().start();
  }
}
