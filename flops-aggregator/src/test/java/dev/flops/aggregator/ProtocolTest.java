package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Parameters;
import dev.flops.api.strategy.FedAvg;
import dev.flops.proto.codec.EncodedParameters;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.v1.AggregatorMessage;
import dev.flops.proto.v1.DownloadRequest;
import dev.flops.proto.v1.Envelope;
import dev.flops.proto.v1.FederationGrpc;
import dev.flops.proto.v1.Hello;
import dev.flops.proto.v1.LearnerMessage;
import dev.flops.proto.v1.ParameterMessage;
import dev.flops.proto.v1.UploadHeader;
import dev.flops.proto.v1.UploadMessage;
import dev.flops.proto.v1.UploadReceipt;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.util.Iterator;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The aggregator's answers to a hand-driven learner speaking raw protocol messages over real gRPC,
 * for what the well-behaved {@code Learner} never sends.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ProtocolTest {
  private final Parameters initial = Federations.randomParameters(11, false);
  private Aggregator aggregator;
  private ManagedChannel channel;
  private CompletableFuture<Object> training;

  @BeforeEach
  void start() throws Exception {
    aggregator = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .strategy(FedAvg.builder().rounds(1).build())
        .build().start();
    channel = NettyChannelBuilder.forAddress("127.0.0.1", aggregator.port()).usePlaintext().build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    aggregator.close();
  }

  @Test
  void helloWithOtherProtocolVersion_refusedNamingBothVersions() throws Exception {
    RawSession session = new RawSession(channel);
    session.send(LearnerMessage.newBuilder()
        .setEnvelope(Envelope.newBuilder().setProtocolVersion(99))
        .setHello(Hello.newBuilder().setLearnerName("from-the-future"))
        .build());
    Status status = session.awaitError();
    assertEquals(Status.Code.FAILED_PRECONDITION, status.getCode());
    assertTrue(status.getDescription().contains("v99"), status.getDescription());
    assertTrue(status.getDescription().contains("v" + WireProtocol.VERSION),
        status.getDescription());
  }

  @Test
  void uploadThatDoesNotMatchTheModel_reportedToTheLearner() throws Exception {
    training = CompletableFuture.supplyAsync(() -> {
      try {
        return aggregator.train();
      } catch (Exception e) {
        return e;
      }
    });
    RawSession session = new RawSession(channel);
    session.send(LearnerMessage.newBuilder()
        .setEnvelope(WireProtocol.envelope(0))
        .setHello(Hello.newBuilder().setLearnerName("raw"))
        .build());
    String learnerId = session.next().getWelcome().getLearnerId();
    AggregatorMessage task = session.next();
    assertTrue(task.hasTask(), "the aggregator sends a fit task: " + task);
    long round = task.getEnvelope().getRound();

    // Another round's download is refused with both rounds named.
    Iterator<ParameterMessage> stale = FederationGrpc.newBlockingStub(channel).downloadParameters(
        DownloadRequest.newBuilder().setEnvelope(WireProtocol.envelope(round + 5))
            .setLearnerId(learnerId).setTaskId(task.getTask().getTaskId()).build());
    StatusRuntimeException staleError = assertThrows(StatusRuntimeException.class, stale::next);
    assertEquals(Status.Code.FAILED_PRECONDITION, staleError.getStatus().getCode());
    assertTrue(staleError.getStatus().getDescription().contains("round " + (round + 5)),
        staleError.getStatus().getDescription());

    Parameters wrong = Federations.randomParameters(12, true); // one tensor too many
    EncodedParameters encoded = EncodedParameters.encode(wrong);
    CompletableFuture<Status> outcome = new CompletableFuture<>();
    StreamObserver<UploadMessage> upload =
        FederationGrpc.newStub(channel).uploadUpdate(new StreamObserver<>() {
          @Override
          public void onNext(UploadReceipt receipt) {
            outcome.complete(Status.OK);
          }

          @Override
          public void onError(Throwable t) {
            outcome.complete(Status.fromThrowable(t));
          }

          @Override
          public void onCompleted() {}
        });
    upload.onNext(UploadMessage.newBuilder()
        .setEnvelope(WireProtocol.envelope(round))
        .setHeader(UploadHeader.newBuilder()
            .setLearnerId(learnerId)
            .setTaskId(task.getTask().getTaskId())
            .setNumExamples(10)
            .setManifest(encoded.manifest()))
        .build());
    upload.onCompleted();
    Status status = outcome.get(10, TimeUnit.SECONDS);
    assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode());
    assertTrue(status.getDescription().contains("does not match the global model"),
        status.getDescription());
    assertTrue(status.getDescription().contains("3 [dense_W, dense_b, big]"),
        status.getDescription());
    session.close();
  }

  /** A learner's control stream driven by hand. */
  private static final class RawSession {
    private final BlockingQueue<Object> inbound = new LinkedBlockingQueue<>();
    private final StreamObserver<LearnerMessage> out;

    RawSession(ManagedChannel channel) {
      out = FederationGrpc.newStub(channel).connect(new StreamObserver<>() {
        @Override
        public void onNext(AggregatorMessage message) {
          inbound.add(message);
        }

        @Override
        public void onError(Throwable t) {
          inbound.add(Status.fromThrowable(t));
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
      Object next = inbound.poll(10, TimeUnit.SECONDS);
      if (next instanceof AggregatorMessage message) {
        return message;
      }
      throw new AssertionError("expected a message but got " + next);
    }

    Status awaitError() throws InterruptedException {
      Object next = inbound.poll(10, TimeUnit.SECONDS);
      if (next instanceof Status status) {
        return status;
      }
      throw new AssertionError("expected an error status but got " + next);
    }

    void close() {
      out.onCompleted();
    }
  }
}
