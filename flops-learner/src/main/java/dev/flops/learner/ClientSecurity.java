package dev.flops.learner;

import dev.flops.api.Secret;
import dev.flops.learner.internal.DiagnosingTrustManager;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.security.BearerToken;
import dev.flops.proto.security.Hosts;
import dev.flops.proto.security.TlsFiles;
import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;

/**
 * The learner's transport settings that {@link Learner.Builder} collects: TLS (trusted roots and
 * an optional client certificate) and the token. Turns them into the channel. Its
 * {@link #toString()} never shows the token.
 */
final class ClientSecurity {
  boolean tls;
  /** Null with TLS on: the JDK's default trusted roots. */
  Path trustedCertificates;
  Path certificateChain;
  Path privateKey;
  Secret token;

  /** Checks the settings that only make sense together; called by {@code build()}. */
  void checkConsistent() {
    if (certificateChain != null && !tls) {
      throw new IllegalStateException("clientCertificate(...) needs TLS: also set "
          + "trustedCertificates(rootCertificates) or tls()");
    }
  }

  ClientSecurity copy() {
    ClientSecurity copy = new ClientSecurity();
    copy.tls = tls;
    copy.trustedCertificates = trustedCertificates;
    copy.certificateChain = certificateChain;
    copy.privateKey = privateKey;
    copy.token = token;
    return copy;
  }

  /** Opens the channel to the aggregator with these credentials and the token on every call. */
  ManagedChannel openChannel(AggregatorAddress aggregator) {
    return openChannel(aggregator, UnaryOperator.identity());
  }

  /** Opens the channel, letting the learner add its own settings (keepalive, interceptors). */
  ManagedChannel openChannel(AggregatorAddress aggregator,
      UnaryOperator<NettyChannelBuilder> configure) {
    NettyChannelBuilder builder =
        NettyChannelBuilder.forAddress(aggregator.host(), aggregator.port(), credentials())
            .maxInboundMessageSize(WireProtocol.MAX_MESSAGE_BYTES)
            // The learner's callbacks only enqueue or complete a future (ControlSession), or
            // decode a download chunk from the receive buffers, which must happen before the
            // callback returns (DownloadReceiver): handing each callback to another thread cost
            // about a millisecond of CPU per learner and round (issue 13).
            .directExecutor();
    if (token != null) {
      builder.intercept(MetadataUtils.newAttachHeadersInterceptor(BearerToken.headers(token)));
    }
    return configure.apply(builder).build();
  }

  private ChannelCredentials credentials() {
    if (!tls) {
      return InsecureChannelCredentials.create();
    }
    try {
      // The JDK's own checks, wrapped so that a certificate that does not name the host dialled
      // is reported as that, not as an untrusted one.
      TlsChannelCredentials.Builder builder = TlsChannelCredentials.newBuilder()
          .trustManager(DiagnosingTrustManager.forRoots(trustedCertificates == null ? null
              : TlsFiles.certificates(trustedCertificates, "the trusted root certificates file")));
      if (certificateChain != null) {
        builder.keyManager(certificateChain.toFile(), privateKey.toFile());
      }
      return builder.build();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the learner's TLS files: " + e.getMessage(), e);
    }
  }

  /** Warns when what the learner sends can be read on the way; {@code who} names the learner. */
  void warnIfExposed(Logger log, String who, AggregatorAddress aggregator) {
    if (tls) {
      return;
    }
    if (!Hosts.isLoopback(aggregator.host())) {
      log.warn("PLAINTEXT ON THE NETWORK: {} talks to {} without TLS; anyone on the path "
          + "can read the model and its updates{}. Set trustedCertificates(rootCertificates) "
          + "(--trust-file) and run the aggregator with TLS.", who, aggregator,
          token != null ? " and copy the learner's token" : "");
    } else if (token != null) {
      log.warn("{} sends its token without TLS; set trustedCertificates(rootCertificates) "
          + "(--trust-file) and run the aggregator with TLS", who);
    }
  }

  static void checkTrustedCertificates(Path file) {
    TlsFiles.certificates(file, "the trusted root certificates file");
  }

  static void checkClientFiles(Path certificateChain, Path privateKey) {
    TlsFiles.checkKeyPair(certificateChain, privateKey, "the learner's");
  }

  @Override
  public String toString() {
    return String.format("ClientSecurity[tls=%s, trustedCertificates=%s, clientCertificate=%s, "
            + "token=%s]", tls, tls && trustedCertificates == null ? "JDK default"
            : trustedCertificates, certificateChain != null,
        token == null ? "none" : "(redacted)");
  }
}
