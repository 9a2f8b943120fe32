package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Parameters;
import dev.flops.learner.Learner;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A learner that cannot reach its aggregator because of a mistake (TLS on one side only, a wrong
 * port) says what is wrong within seconds, over real gRPC on loopback, although its connectTimeout
 * is a minute: a warning with the diagnosis after a few failed attempts, and every retry line
 * with the root cause and the delay as people write it.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ReachabilityLogTest {
  @TempDir
  static Path certificates;
  static TestCertificates federation;

  private final Parameters initial = Federations.randomParameters(5, false);

  @BeforeAll
  static void makeCertificates() throws Exception {
    federation = TestCertificates.make(certificates.resolve("federation"), "a");
  }

  @Test
  void plaintextLearnerAgainstTlsAggregator_warnsWithTheTlsHintWithinSeconds() throws Exception {
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .tls(federation.aggregatorCertificate(), federation.aggregatorKey())
        .build().start()) {
      String warning = warningOf(aggregator.port(), b -> b);
      assertTrue(warning.contains("if it runs TLS, give this learner the root certificate that "
          + "signed the aggregator's (--trust-file)"), warning);
    }
  }

  @Test
  void tlsLearnerAgainstPlaintextAggregator_warnsWithTheTlsHintWithinSeconds() throws Exception {
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .build().start()) {
      String warning = warningOf(aggregator.port(),
          b -> b.trustedCertificates(federation.ca()));
      assertTrue(warning.contains("the aggregator answers without TLS but this learner uses TLS: "
          + "give the aggregator a certificate (--tls-cert, --tls-key)"), warning);
    }
  }

  @Test
  void wrongPort_retryLineShowsConnectionRefused_warningSaysNothingListens() throws Exception {
    int port = TestPorts.unusedPort();
    try (LogCapture log = new LogCapture()) {
      String warning = warningOf(port, b -> b);
      assertTrue(warning.contains("nothing accepts connections at 127.0.0.1:" + port
          + " (connection refused): check that the aggregator is running and that the port is "
          + "right"), warning);
      String retry = lineWith(log.text(), "not reachable yet (");
      assertTrue(retry.contains("UNAVAILABLE: io exception (")
          && retry.contains("Connection refused"), "the root cause is on the line: " + retry);
    }
  }

  @Test
  void learnerWithTheDefaultName_isCalledLearnerOnce_notLearnerLearner() throws Exception {
    int port = TestPorts.unusedPort();
    try (LogCapture log = new LogCapture()) {
      Learner learner = Learner.builder()
          .aggregator("127.0.0.1", port)
          .trainer(FakeTrainer.adding(initial, 1f, 10))
          .connectTimeout(Duration.ofMillis(300))
          .backoff(Duration.ofMillis(50), Duration.ofMillis(100))
          .build();
      learner.runAsync().handle((ok, error) -> null).get(10, TimeUnit.SECONDS);
      String text = log.text();
      assertTrue(text.contains("INFO Learner - learner is ready; connecting to "
          + "127.0.0.1:" + port), text);
      assertTrue(text.contains("INFO Learner - learner: aggregator at 127.0.0.1:" + port
          + " not reachable yet"), text);
      assertFalse(text.contains("learner learner"), text);
    }
  }

  /**
   * Runs a learner named "a" with a one-minute connectTimeout against {@code port} and returns its
   * first warning, which must come within 10 seconds.
   */
  private String warningOf(int port, UnaryOperator<Learner.Builder> adjust) throws Exception {
    try (LogCapture log = new LogCapture()) {
      Learner learner = adjust.apply(Learner.builder()
              .aggregator("127.0.0.1", port)
              .name("a")
              .trainer(FakeTrainer.adding(initial, 1f, 10))
              .connectTimeout(Duration.ofMinutes(1))
              .backoff(Duration.ofMillis(50), Duration.ofMillis(200)))
          .build();
      CompletableFuture<Void> running = learner.runAsync();
      try {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!log.text().contains("is still not reachable after")
            && System.nanoTime() < deadline) {
          Thread.sleep(50);
        }
        String warning = lineWith(log.text(), "is still not reachable after");
        assertTrue(warning.contains("WARN"), warning);
        assertTrue(warning.contains("learner a: the aggregator at 127.0.0.1:" + port
            + " is still not reachable after 3 attempts over "), warning);
        assertFalse(warning.contains("PT"), "no ISO durations: " + warning);
        assertFalse(running.isDone(), "still trying within its connectTimeout");
        String retry = lineWith(log.text(), "not reachable yet (");
        assertTrue(retry.matches(".*\\); retrying in \\d+ ms$"),
            "the cause and a delay for people, on one line: " + retry);
        return warning;
      } finally {
        learner.stop();
        running.handle((ok, error) -> null).get(10, TimeUnit.SECONDS);
      }
    }
  }

  private static String lineWith(String text, String part) {
    for (String line : text.split("\n")) {
      if (line.contains(part)) {
        return line;
      }
    }
    throw new AssertionError("no line with '" + part + "' in:\n" + text);
  }
}
