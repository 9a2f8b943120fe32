package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Parameters;
import dev.flops.api.Secret;
import dev.flops.learner.Learner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * The transport knobs fail fast on bad files and conflicting settings, with messages naming the
 * file and the fix; plaintext beyond loopback and tokens without TLS are warned about loudly.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TransportSettingsTest {
  @TempDir
  static Path dir;
  static TestCertificates certificates;

  private final Parameters initial = Federations.randomParameters(17, false);

  @BeforeAll
  static void makeCertificates() throws Exception {
    certificates = TestCertificates.make(dir.resolve("certificates"), "a");
  }

  @Test
  void aggregatorTlsFiles_badOnes_failWhenSet() throws Exception {
    Path missing = dir.resolve("missing.pem");
    assertMessage(() -> Aggregator.builder().tls(missing, certificates.aggregatorKey()),
        "the aggregator's certificate chain " + missing + " does not exist");
    assertMessage(() -> Aggregator.builder().tls(dir, certificates.aggregatorKey()),
        "cannot read the aggregator's certificate chain " + dir);
    Path notPem = Files.writeString(dir.resolve("not.pem"), "hello\n");
    assertMessage(() -> Aggregator.builder().tls(notPem, certificates.aggregatorKey()),
        "the aggregator's certificate chain " + notPem + " holds no PEM certificate");
    assertMessage(() -> Aggregator.builder()
            .tls(certificates.aggregatorCertificate(), certificates.key("a")),
        "the aggregator's private key " + certificates.key("a") + " does not belong to the "
            + "certificate in " + certificates.aggregatorCertificate());
    assertMessage(() -> Aggregator.builder()
            .tls(certificates.aggregatorCertificate(), certificates.aggregatorCertificate()),
        "must hold exactly one PEM block -----BEGIN PRIVATE KEY----- (PKCS#8) but holds 0");
    Path legacy = dir.resolve("legacy.key");
    Process convert = new ProcessBuilder("openssl", "ec", "-in",
        certificates.aggregatorKey().toString(), "-out", legacy.toString())
        .redirectErrorStream(true).start();
    convert.getInputStream().readAllBytes();
    assertEquals(0, convert.waitFor());
    assertMessage(() -> Aggregator.builder().tls(certificates.aggregatorCertificate(), legacy),
        "is in the legacy PKCS#1/SEC1 format; convert it to PKCS#8: `openssl pkcs8 -topk8 "
            + "-nocrypt -in " + legacy);
    assertMessage(() -> Aggregator.builder().requireClientCertificates(missing),
        "the learners' certificate authorities file " + missing + " does not exist");
    IllegalStateException noTls = assertThrows(IllegalStateException.class,
        () -> Aggregator.builder().model(new ArrayModel(initial))
            .requireClientCertificates(certificates.ca()).build());
    assertEquals("requireClientCertificates(...) needs TLS on the aggregator: also set "
        + "tls(certificateChain, privateKey)", noTls.getMessage());
  }

  @Test
  void learnerTlsFiles_badOnes_failWhenSet() {
    Path missing = dir.resolve("missing-ca.pem");
    assertMessage(() -> Learner.builder().trustedCertificates(missing),
        "the trusted root certificates file " + missing + " does not exist");
    assertMessage(() -> Learner.builder()
            .clientCertificate(certificates.certificate("a"), certificates.aggregatorKey()),
        "the learner's private key " + certificates.aggregatorKey() + " does not belong to the "
            + "certificate in " + certificates.certificate("a"));
    IllegalStateException noTls = assertThrows(IllegalStateException.class,
        () -> Learner.builder().aggregator("127.0.0.1:1")
            .trainer(FakeTrainer.adding(initial, 1f, 1))
            .clientCertificate(certificates.certificate("a"), certificates.key("a")).build());
    assertTrue(noTls.getMessage().contains("clientCertificate(...) needs TLS"), noTls.getMessage());
  }

  @Test
  void knobs_outOfRange_failNamingKnobAndValue() {
    assertMessage(() -> Aggregator.builder().maxCallsPerAddress(1),
        "maxCallsPerAddress must be at least 2 but was 1");
    assertMessage(() -> Aggregator.builder().maxCalls(0), "maxCalls must be at least 2 but was 0");
    assertMessage(() -> Aggregator.builder().handshakeTimeout(Duration.ZERO),
        "handshakeTimeout must be positive but was 0 ms");
    assertMessage(() -> Secret.of("short"), "the secret is shorter than 16 characters");
    assertMessage(() -> Secret.of("has a space in the middle"),
        "the secret holds a space, a control or a non-ASCII character at position 3");
  }

  @Test
  void plaintextOnEveryInterface_warnsLoudly_loopbackDoesNot() throws Exception {
    String logs;
    try (LogCapture capture = new LogCapture()) {
      try (Aggregator exposed = Aggregator.builder().host("0.0.0.0").port(0)
          .model(new ArrayModel(initial)).build().start()) {
        exposed.port();
      }
      try (Aggregator local = Aggregator.builder().host("127.0.0.1").port(0)
          .model(new ArrayModel(initial)).build().start()) {
        local.port();
      }
      logs = capture.text();
    }
    assertTrue(logs.contains("WARN Aggregator - PLAINTEXT ON THE NETWORK: the aggregator listens "
        + "on 0.0.0.0:"), logs);
    assertEquals(1, logs.split("PLAINTEXT ON THE NETWORK", -1).length - 1,
        "only the aggregator on 0.0.0.0 warns");
  }

  @Test
  void tlsOn_noPlaintextWarning() throws Exception {
    String logs;
    try (LogCapture capture = new LogCapture()) {
      try (Aggregator exposed = Aggregator.builder().host("0.0.0.0").port(0)
          .model(new ArrayModel(initial))
          .tls(certificates.aggregatorCertificate(), certificates.aggregatorKey())
          .build().start()) {
        exposed.port();
      }
      logs = capture.text();
    }
    assertFalse(logs.contains("PLAINTEXT"), logs);
    assertTrue(logs.contains("TLS on; learner certificates not required; learner tokens not "
        + "required"), logs);
  }

  @Test
  void learnerDialingBeyondLoopbackInPlaintext_warnsLoudly() throws Exception {
    String logs;
    try (LogCapture capture = new LogCapture()) {
      // 192.0.2.1 is TEST-NET-1: never routed, so the learner only gets as far as warning.
      Learner learner = Learner.builder().aggregator("192.0.2.1:50051").name("remote")
          .trainer(FakeTrainer.adding(initial, 1f, 1)).build();
      CompletableFuture<Void> running = learner.runAsync();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (!capture.text().contains("PLAINTEXT ON THE NETWORK") && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      learner.stop();
      assertThrows(Exception.class, () -> running.get(20, TimeUnit.SECONDS));
      logs = capture.text();
    }
    assertTrue(logs.contains("WARN Learner - PLAINTEXT ON THE NETWORK: learner remote talks to "
        + "192.0.2.1:50051 without TLS"), logs);
  }

  private static void assertMessage(Executable executable, String expected) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, executable);
    assertTrue(e.getMessage().contains(expected), e.getMessage());
  }
}
