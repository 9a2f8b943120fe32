package dev.flops.aggregator;

import dev.flops.api.Secret;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The command-line options of an aggregator's transport security (a picocli mixin shared by
 * {@link AggregatorMain} and the examples' mains): TLS, mutual TLS, learner tokens and call
 * bounds. Tokens come from files or the environment, never from the command line, where other
 * users of the machine could read them.
 */
public final class AggregatorSecurityOptions {

  /** The environment variable holding the shared learner token when no token file is given. */
  public static final String TOKEN_VARIABLE = "FLOPS_TOKEN";

  @Option(names = "--tls-cert", paramLabel = "FILE",
      description = "PEM certificate chain of the aggregator; turns TLS on (with --tls-key).")
  Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE",
      description = "Unencrypted PKCS#8 PEM private key of --tls-cert.")
  Path tlsKey;

  @Option(names = "--client-ca", paramLabel = "FILE",
      description = "Require learner certificates signed by the CA certificates in FILE "
          + "(mutual TLS; needs --tls-cert).")
  Path clientCa;

  @Option(names = "--token-file", paramLabel = "FILE",
      description = "File holding the token every learner must present. Without it and "
          + "without --learner-tokens, $" + TOKEN_VARIABLE + " is used if set.")
  Path tokenFile;

  @Option(names = "--learner-tokens", paramLabel = "FILE",
      description = "File of NAME=TOKEN lines: each learner's own token, bound to its name.")
  Path learnerTokens;

  @Option(names = "--max-calls-per-address", defaultValue = ""
      + ServerSecurity.DEFAULT_MAX_CALLS_PER_ADDRESS,
      description = "Most learners (control streams) connected at once from one IP address; "
          + "each may hold one transfer besides (default: ${DEFAULT-VALUE}).")
  int maxCallsPerAddress = ServerSecurity.DEFAULT_MAX_CALLS_PER_ADDRESS;

  @Option(names = "--max-calls", defaultValue = "" + ServerSecurity.DEFAULT_MAX_CALLS,
      description = "Most calls open at once in total (default: ${DEFAULT-VALUE}).")
  int maxCalls = ServerSecurity.DEFAULT_MAX_CALLS;

  Map<String, String> environment = System.getenv();

  /**
   * Sets the options on an aggregator builder.
   *
   * @param builder the builder
   * @return the builder
   * @throws IllegalArgumentException if a file is bad or options are missing their partner
   */
  public Aggregator.Builder applyTo(Aggregator.Builder builder) {
    if ((tlsCert == null) != (tlsKey == null)) {
      throw new IllegalArgumentException("--tls-cert and --tls-key go together: give both "
          + "(the certificate chain and its private key) or neither");
    }
    if (tlsCert != null) {
      builder.tls(tlsCert, tlsKey);
    }
    if (clientCa != null) {
      if (tlsCert == null) {
        throw new IllegalArgumentException("--client-ca needs TLS: also give --tls-cert and "
            + "--tls-key");
      }
      builder.requireClientCertificates(clientCa);
    }
    if (tokenFile != null && learnerTokens != null) {
      throw new IllegalArgumentException("--token-file (one token for all learners) and "
          + "--learner-tokens (a token per learner) exclude each other; give one");
    }
    if (learnerTokens != null) {
      builder.learnerTokensFile(learnerTokens);
    } else if (tokenFile != null) {
      builder.learnerToken(Secret.fromFile(tokenFile));
    } else if (environment.get(TOKEN_VARIABLE) != null) {
      builder.learnerToken(Secret.fromEnvironment(TOKEN_VARIABLE, environment));
    }
    return builder.maxCallsPerAddress(maxCallsPerAddress).maxCalls(maxCalls);
  }
}
