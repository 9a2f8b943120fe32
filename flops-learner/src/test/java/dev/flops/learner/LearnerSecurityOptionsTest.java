package dev.flops.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The learner's security options: pairs and partners, token sources, messages naming them. */
class LearnerSecurityOptionsTest {
  @TempDir
  Path dir;

  @Test
  void certificateWithoutKey_failsNamingBothOptions() {
    IllegalArgumentException e = apply(Map.of(), "--trust-file", "ca.pem", "--tls-cert", "a.pem");
    assertEquals("--tls-cert and --tls-key go together: give both (the certificate chain and its "
        + "private key) or neither", e.getMessage());
  }

  @Test
  void clientCertificateWithoutTls_failsSayingWhatToAdd() {
    IllegalArgumentException e = apply(Map.of(), "--tls-cert", "a.pem", "--tls-key", "a.key");
    assertEquals("--tls-cert needs TLS: also give --trust-file (the root certificate that signed "
        + "the aggregator's) or --tls", e.getMessage());
  }

  @Test
  void missingTrustFile_failsNamingIt() {
    IllegalArgumentException e = apply(Map.of(), "--trust-file", dir.resolve("ca.pem").toString());
    assertEquals("the trusted root certificates file " + dir.resolve("ca.pem")
        + " does not exist", e.getMessage());
  }

  @Test
  void malformedEnvironmentToken_failsNamingTheVariable_notTheValue() {
    IllegalArgumentException e = apply(Map.of("FLOPS_TOKEN", "0123456789 abcdef"));
    assertEquals("the secret in $FLOPS_TOKEN holds a space, a control or a non-ASCII character at "
        + "position 10; use printable ASCII only, e.g. generate one with `openssl rand -hex 32`",
        e.getMessage());
  }

  private static IllegalArgumentException apply(Map<String, String> environment, String... args) {
    LearnerSecurityOptions options = new LearnerSecurityOptions();
    options.environment = environment;
    new CommandLine(options).parseArgs(args);
    return assertThrows(IllegalArgumentException.class,
        () -> options.applyTo(Learner.builder()));
  }
}
