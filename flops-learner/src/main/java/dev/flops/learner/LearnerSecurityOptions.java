package dev.flops.learner;

import dev.flops.api.Secret;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The command-line options of a learner's transport security (a picocli mixin shared by
 * {@link LearnerMain} and the examples' mains): TLS, a client certificate and the token. The
 * token comes from a file or the environment, never from the command line, where other users of
 * the machine could read it.
 */
public final class LearnerSecurityOptions {

  /** The environment variable holding the learner's token when no token file is given. */
  public static final String TOKEN_VARIABLE = "FLOPS_TOKEN";

  @Option(names = "--trust-file", paramLabel = "FILE",
      description = "PEM root certificates the aggregator's certificate must chain to; turns "
          + "TLS on.")
  Path trustFile;

  @Option(names = "--tls",
      description = "Use TLS and trust the JDK's default roots (an aggregator with a "
          + "certificate from a public authority).")
  boolean tls;

  @Option(names = "--tls-cert", paramLabel = "FILE",
      description = "PEM certificate chain this learner presents, for mutual TLS (with "
          + "--tls-key).")
  Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE",
      description = "Unencrypted PKCS#8 PEM private key of --tls-cert.")
  Path tlsKey;

  @Option(names = "--token-file", paramLabel = "FILE",
      description = "File holding this learner's token. Without it, $" + TOKEN_VARIABLE
          + " is used if set.")
  Path tokenFile;

  Map<String, String> environment = System.getenv();

  /**
   * Sets the options on a learner builder.
   *
   * @param builder the builder
   * @return the builder
   * @throws IllegalArgumentException if a file is bad or options are missing their partner
   */
  public Learner.Builder applyTo(Learner.Builder builder) {
    if ((tlsCert == null) != (tlsKey == null)) {
      throw new IllegalArgumentException("--tls-cert and --tls-key go together: give both "
          + "(the certificate chain and its private key) or neither");
    }
    if (trustFile != null) {
      builder.trustedCertificates(trustFile);
    } else if (tls) {
      builder.tls();
    }
    if (tlsCert != null) {
      if (trustFile == null && !tls) {
        throw new IllegalArgumentException("--tls-cert needs TLS: also give --trust-file (the "
            + "root certificate that signed the aggregator's) or --tls");
      }
      builder.clientCertificate(tlsCert, tlsKey);
    }
    if (tokenFile != null) {
      builder.token(Secret.fromFile(tokenFile));
    } else if (environment.get(TOKEN_VARIABLE) != null) {
      builder.token(Secret.fromEnvironment(TOKEN_VARIABLE, environment));
    }
    return builder;
  }
}
