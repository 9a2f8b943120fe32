package dev.flops.aggregator;

import dev.flops.api.Secret;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.security.BearerToken;
import dev.flops.proto.v1.AggregatorMessage;
import dev.flops.proto.v1.DownloadRequest;
import dev.flops.proto.v1.FederationGrpc;
import dev.flops.proto.v1.Hello;
import dev.flops.proto.v1.LearnerMessage;
import dev.flops.proto.v1.ParameterMessage;
import dev.flops.proto.v1.Task;
import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;

/**
 * A learner driven by hand over its own channel (optionally TLS, optionally with a token), to
 * send what the real {@code Learner} never would, e.g. a download without a token.
 */
final class SecureRawLearner implements AutoCloseable {
  private final ManagedChannel channel;
  private RawSession session;

  SecureRawLearner(int port, Path trustedCertificates, Secret token) throws IOException {
    ChannelCredentials credentials = trustedCertificates == null
        ? InsecureChannelCredentials.create()
        : TlsChannelCredentials.newBuilder().trustManager(trustedCertificates.toFile()).build();
    NettyChannelBuilder builder = NettyChannelBuilder.forAddress("127.0.0.1", port, credentials);
    if (token != null) {
      builder.intercept(MetadataUtils.newAttachHeadersInterceptor(BearerToken.headers(token)));
    }
    channel = builder.build();
  }

  /** Opens the control stream and says Hello. */
  void hello(String name) {
    session = new RawSession(channel);
    session.send(LearnerMessage.newBuilder()
        .setEnvelope(WireProtocol.envelope(0))
        .setHello(Hello.newBuilder().setLearnerName(name))
        .build());
  }

  /** The next message on the control stream. */
  AggregatorMessage next() throws InterruptedException {
    return session.next();
  }

  /** The status the control stream ended with. */
  Status awaitError() throws InterruptedException {
    return session.awaitError();
  }

  /**
   * Asks for a task's parameters and returns the first message, or throws the refusal.
   *
   * @throws StatusRuntimeException if the aggregator refuses before sending anything
   */
  ParameterMessage firstDownloadMessage(long round, String learnerId, Task task) {
    Iterator<ParameterMessage> messages = FederationGrpc.newBlockingStub(channel)
        .withMaxInboundMessageSize(WireProtocol.MAX_MESSAGE_BYTES)
        .withDeadlineAfter(20, TimeUnit.SECONDS)
        .downloadParameters(DownloadRequest.newBuilder()
            .setEnvelope(WireProtocol.envelope(round))
            .setLearnerId(learnerId)
            .setTaskId(task.getTaskId())
            .setCapability(task.getCapability())
            .build());
    return messages.next();
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }
}
