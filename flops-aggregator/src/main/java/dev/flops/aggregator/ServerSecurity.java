package dev.flops.aggregator;

import dev.flops.aggregator.internal.CallLimiter;
import dev.flops.aggregator.internal.HandshakeObserver;
import dev.flops.aggregator.internal.HandshakeRefusals;
import dev.flops.aggregator.internal.LearnerAuthenticator;
import dev.flops.aggregator.internal.LearnerCertificate;
import dev.flops.api.Secret;
import dev.flops.proto.security.Hosts;
import dev.flops.proto.security.TlsFiles;
import io.grpc.InsecureServerCredentials;
import io.grpc.ServerCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;

/**
 * The aggregator's transport settings that {@link Aggregator.Builder} collects: TLS, learner
 * tokens and the bounds on connections and calls. Turns them into the server's credentials,
 * interceptors and Netty limits. Its {@link #toString()} never shows a token.
 */
final class ServerSecurity {
  /** Default bound on learners (control streams) from one IP address; each adds one transfer. */
  static final int DEFAULT_MAX_CALLS_PER_ADDRESS = 256;
  /** Default bound on calls open at once in total. */
  static final int DEFAULT_MAX_CALLS = 4096;
  /** Default bound on HTTP/2 streams per connection; a learner uses two at most. */
  static final int DEFAULT_MAX_CALLS_PER_CONNECTION = 32;
  static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(20);
  static final Duration DEFAULT_MAX_CONNECTION_IDLE = Duration.ofMinutes(5);

  Path certificateChain;
  Path privateKey;
  Path clientCertificateAuthorities;
  Secret sharedToken;
  Map<String, Secret> learnerTokens = Map.of();
  int maxCalls = DEFAULT_MAX_CALLS;
  int maxCallsPerAddress = DEFAULT_MAX_CALLS_PER_ADDRESS;
  int maxCallsPerConnection = DEFAULT_MAX_CALLS_PER_CONNECTION;
  Duration handshakeTimeout = DEFAULT_HANDSHAKE_TIMEOUT;
  Duration maxConnectionIdle = DEFAULT_MAX_CONNECTION_IDLE;
  /** Null: connections live as long as they are used (a learner's control stream spans rounds). */
  Duration maxConnectionAge;
  /** Where refused TLS handshakes are logged, at most a line per peer address a minute. */
  private final HandshakeRefusals handshakeRefusals = new HandshakeRefusals();
  /** The limiter of the running server, closed with it. */
  private CallLimiter limiter;

  boolean tls() {
    return certificateChain != null;
  }

  boolean tokens() {
    return sharedToken != null || !learnerTokens.isEmpty();
  }

  /** Checks the settings that only make sense together; called by {@code build()}. */
  void checkConsistent() {
    if (clientCertificateAuthorities != null && !tls()) {
      throw new IllegalStateException("requireClientCertificates(...) needs TLS on the "
          + "aggregator: also set tls(certificateChain, privateKey)");
    }
    if (sharedToken != null && !learnerTokens.isEmpty()) {
      throw new IllegalStateException("learnerToken(...) (one token for all) and "
          + "learnerTokens(...) (a token per learner) exclude each other; set one of them");
    }
  }

  /** Returns a Netty server builder for the address with the credentials, limits and checks. */
  NettyServerBuilder serverBuilder(InetSocketAddress address) {
    NettyServerBuilder builder = NettyServerBuilder.forAddress(address, credentials())
        .maxConcurrentCallsPerConnection(maxCallsPerConnection)
        .handshakeTimeout(handshakeTimeout.toMillis(), TimeUnit.MILLISECONDS)
        .maxConnectionIdle(maxConnectionIdle.toMillis(), TimeUnit.MILLISECONDS)
        // Rapid-reset defence (CVE-2023-44487): a peer cancelling streams in a loop is cut off.
        .maxRstFramesPerWindow(200, 10);
    if (maxConnectionAge != null) {
      builder.maxConnectionAge(maxConnectionAge.toMillis(), TimeUnit.MILLISECONDS);
    }
    // The last interceptor added runs first: tokens are checked before a call takes a slot.
    close();
    limiter = new CallLimiter(maxCalls, maxCallsPerAddress, handshakeTimeout);
    builder.intercept(limiter);
    if (sharedToken != null) {
      builder.intercept(LearnerAuthenticator.sharedToken(sharedToken));
    } else if (!learnerTokens.isEmpty()) {
      builder.intercept(LearnerAuthenticator.learnerTokens(learnerTokens));
    }
    if (clientCertificateAuthorities != null) {
      // Runs before the token check, which needs the certificate's names to bind them.
      builder.intercept(LearnerCertificate.interceptor());
    }
    return builder;
  }

  /** Stops the call limiter's timer; called when the aggregator closes. */
  void close() {
    if (limiter != null) {
      limiter.close();
      limiter = null;
    }
  }

  private ServerCredentials credentials() {
    if (!tls()) {
      return InsecureServerCredentials.create();
    }
    try {
      TlsServerCredentials.Builder tls = TlsServerCredentials.newBuilder()
          .keyManager(certificateChain.toFile(), privateKey.toFile());
      if (clientCertificateAuthorities != null) {
        tls.trustManager(clientCertificateAuthorities.toFile())
            .clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
      }
      return HandshakeObserver.observe(tls.build(), handshakeRefusals);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot read the aggregator's TLS files: " + e.getMessage(), e);
    }
  }

  /** Logs what an operator must know about the transport once the server listens. */
  void logStart(Logger log, String host, int port) {
    if (tls()) {
      log.info("TLS on; learner certificates {}; learner tokens {}",
          clientCertificateAuthorities == null ? "not required"
              : "required (signed by " + clientCertificateAuthorities + ")",
          sharedToken != null ? "required (one shared token)"
              : !learnerTokens.isEmpty() ? "required (" + learnerTokens.size() + " learners)"
              : "not required");
      return;
    }
    if (!Hosts.isLoopback(host)) {
      log.warn("PLAINTEXT ON THE NETWORK: the aggregator listens on {}:{} without TLS; anyone "
          + "who can reach it can read the global model{}. Set tls(certificateChain, "
          + "privateKey) (--tls-cert/--tls-key) or listen on 127.0.0.1 only.", host, port,
          tokens() ? " and the learners' tokens" : " and join the federation");
    }
    if (tokens()) {
      log.warn("learner tokens without TLS: they travel in cleartext and anyone on the path "
          + "can copy them; set tls(certificateChain, privateKey) (--tls-cert/--tls-key)");
    }
  }

  /** Copies per-learner tokens, rejecting blank names and tokens shared by two names. */
  static Map<String, Secret> checkLearnerTokens(Map<String, Secret> tokens) {
    Map<String, Secret> copy = new LinkedHashMap<>();
    tokens.forEach((name, token) -> {
      if (name == null || name.isBlank()) {
        throw new IllegalArgumentException("learnerTokens holds a blank learner name");
      }
      if (token == null) {
        throw new IllegalArgumentException("learnerTokens has no token for learner '" + name + "'");
      }
      copy.forEach((other, otherToken) -> {
        if (otherToken.matches(token)) {
          throw new IllegalArgumentException("learners '" + other + "' and '" + name
              + "' have the same token; give each learner its own");
        }
      });
      copy.put(name, token);
    });
    if (copy.isEmpty()) {
      throw new IllegalArgumentException("learnerTokens must name at least one learner");
    }
    return Map.copyOf(copy);
  }

  /**
   * Reads per-learner tokens from a file of {@code NAME=TOKEN} lines (split at the first
   * {@code =}; blank lines and lines starting with {@code #} are skipped).
   */
  static Map<String, Secret> readLearnerTokens(Path file) {
    List<String> lines = TlsFiles.readText(file, "the learner tokens file").lines().toList();
    Map<String, Secret> tokens = new LinkedHashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      String where = "line " + (i + 1) + " of the learner tokens file " + file;
      int equals = line.indexOf('=');
      if (equals <= 0) {
        throw new IllegalArgumentException(where + " is not NAME=TOKEN");
      }
      String name = line.substring(0, equals).strip();
      if (tokens.containsKey(name)) {
        throw new IllegalArgumentException(where + " names learner '" + name + "' again");
      }
      try {
        tokens.put(name, Secret.of(line.substring(equals + 1).strip()));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(where + " (learner '" + name + "'): " + e.getMessage());
      }
    }
    if (tokens.isEmpty()) {
      throw new IllegalArgumentException("the learner tokens file " + file
          + " names no learner; write one NAME=TOKEN line per learner");
    }
    return checkLearnerTokens(tokens);
  }

  /** Checks the TLS files at once, so that a bad file fails the builder, not the first learner. */
  static void checkServerFiles(Path certificateChain, Path privateKey) {
    TlsFiles.checkKeyPair(certificateChain, privateKey, "the aggregator's");
  }

  static void checkClientAuthorities(Path certificateAuthorities) {
    TlsFiles.certificates(certificateAuthorities, "the learners' certificate authorities file");
  }

  /** Returns a copy, so that a builder changed after {@code build()} leaves the aggregator be. */
  ServerSecurity copy() {
    ServerSecurity copy = new ServerSecurity();
    copy.certificateChain = certificateChain;
    copy.privateKey = privateKey;
    copy.clientCertificateAuthorities = clientCertificateAuthorities;
    copy.sharedToken = sharedToken;
    copy.learnerTokens = learnerTokens;
    copy.maxCalls = maxCalls;
    copy.maxCallsPerAddress = maxCallsPerAddress;
    copy.maxCallsPerConnection = maxCallsPerConnection;
    copy.handshakeTimeout = handshakeTimeout;
    copy.maxConnectionIdle = maxConnectionIdle;
    copy.maxConnectionAge = maxConnectionAge;
    return copy;
  }

  @Override
  public String toString() {
    return String.format("ServerSecurity[tls=%s, clientCertificates=%s, tokens=%s, maxCalls=%d, "
            + "maxCallsPerAddress=%d, maxCallsPerConnection=%d, handshakeTimeout=%s, "
            + "maxConnectionIdle=%s, maxConnectionAge=%s]",
        tls(), clientCertificateAuthorities != null,
        sharedToken != null ? "shared (redacted)"
            : learnerTokens.isEmpty() ? "none" : learnerTokens.size() + " learners (redacted)",
        maxCalls, maxCallsPerAddress, maxCallsPerConnection, handshakeTimeout,
        maxConnectionIdle, maxConnectionAge == null ? "unbounded" : maxConnectionAge);
  }
}
