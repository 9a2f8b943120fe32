package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.Secret;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.learner.Learner;
import dev.flops.learner.LearnerException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS and mutual TLS over real gRPC on loopback, with certificates made by openssl at test time:
 * learners that trust the federation's CA (and, for mutual TLS, present a certificate it signed)
 * train; the others are refused during the handshake, never join, and fail fast with a message
 * saying what is wrong.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TlsTest {
  // Set by the helper that builds the aggregator, for the test's train(plan, strategy) calls.
  private TrainingPlan plan;
  private FedAvg strategy;

  @TempDir
  static Path certificates;
  static TestCertificates federation;
  static TestCertificates other;

  private final Parameters initial = Federations.randomParameters(3, false);

  @BeforeAll
  static void makeCertificates() throws Exception {
    federation = TestCertificates.make(certificates.resolve("federation"), "a", "b");
    other = TestCertificates.make(certificates.resolve("other"), "a");
  }

  @Test
  void tls_learnersTrustingTheCa_train() throws Exception {
    try (Aggregator aggregator = tlsAggregator(false)) {
      TrainingResult result = trainWith(aggregator, b -> b.trustedCertificates(federation.ca()),
          b -> b.trustedCertificates(federation.ca()));
      assertAllSucceeded(result);
    }
  }

  @Test
  void tls_learnerTrustingAnotherRoot_refusedFast() throws Exception {
    String message = refused(false, b -> b.trustedCertificates(other.ca()));
    assertTrue(message.contains("refused learner a: the TLS handshake failed: this learner does "
        + "not trust the aggregator's certificate"), message);
  }

  @Test
  void tls_certificateForAnotherHost_nameMismatchDiagnosed() throws Exception {
    TestCertificates elsewhere = TestCertificates.forHostsOnly(
        certificates.resolve("elsewhere"), "aggregator.example.org", "10.1.2.3");
    try (LogCapture log = new LogCapture();
        Aggregator aggregator = Aggregator.builder()
            .host("127.0.0.1").port(0)
            .model(new ArrayModel(initial))
            .tls(elsewhere.aggregatorCertificate(), elsewhere.aggregatorKey())
            .build().start()) {
      // Dialled by address and by host name: each gets the names and the fix for its kind.
      for (String host : List.of("127.0.0.1", "localhost")) {
        FakeTrainer trainer = FakeTrainer.adding(initial, 1f, 10);
        CompletableFuture<Void> learner = Federations.startLearner("a", aggregator.port(),
            trainer, b -> b.aggregator(host, aggregator.port())
                .trustedCertificates(elsewhere.ca()));
        ExecutionException failure =
            assertThrows(ExecutionException.class, () -> learner.get(20, TimeUnit.SECONDS));
        String message = failure.getCause().getMessage();
        assertTrue(message.contains("the TLS handshake failed: the aggregator's certificate is "
            + "trusted but does not name the host dialled, " + host + ": it names "
            + "aggregator.example.org, 10.1.2.3; dial one of those names"), message);
        assertTrue(message.contains("or reissue the aggregator's certificate with "
            + (host.equals("localhost") ? "DNS:" : "IP:") + host
            + " among its subject alternative names"), message);
        assertEquals(0, trainer.model().sets());
      }
      // The aggregator saw the refusals too, with the peer's address: one line for both, since
      // they came from one address within a minute.
      String logged = log.text();
      assertEquals(1, count(logged, "refused a TLS handshake from /127.0.0.1:"), logged);
    }
  }

  @Test
  void tls_plaintextLearnerRetrying_aggregatorLogsOneLineForItsAddress() throws Exception {
    try (LogCapture log = new LogCapture()) {
      refused(false, b -> b.connectTimeout(Duration.ofSeconds(2)));
      String logged = log.text();
      assertEquals(1, count(logged, "refused a TLS handshake from /127.0.0.1:"), logged);
      assertTrue(logged.contains("the peer does not speak TLS"), logged);
      // The learner tried several times within the minute; the aggregator logged it once.
      assertTrue(count(logged, "not reachable yet") >= 2, logged);
    }
  }

  private static int count(String text, String part) {
    int count = 0;
    for (int at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + 1)) {
      count++;
    }
    return count;
  }

  @Test
  void tls_plaintextLearner_neverJoins() throws Exception {
    String message = refused(false, b -> b.connectTimeout(Duration.ofSeconds(3)));
    assertTrue(message.contains("was not reachable for 3 s"), message);
    assertTrue(message.contains("if it runs TLS, give this learner the root certificate that "
        + "signed the aggregator's (--trust-file)"), message);
  }

  @Test
  void tls_learnerStartedBeforeAggregator_waitsThenJoins() throws Exception {
    TrainingPlan plan = TrainingPlan.builder().rounds(1).build();
    FedAvg strategy = FedAvg.builder().build();
    int port = TestPorts.unusedPort();
    CompletableFuture<Void> learner = Federations.startLearner("early", port,
        FakeTrainer.adding(initial, 1f, 10), b -> b.trustedCertificates(federation.ca()));
    Thread.sleep(1000);
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(port)
        .model(new ArrayModel(initial))
        .tls(federation.aggregatorCertificate(), federation.aggregatorKey())
        .build().start()) {
      assertEquals(1, aggregator.train(plan, strategy).rounds().get(0).fitSucceeded());
      aggregator.shutdownLearners();
      learner.get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void tls_learnerAgainstPlaintextAggregator_neverJoins() throws Exception {
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .build().start()) {
      FakeTrainer trainer = FakeTrainer.adding(initial, 1f, 10);
      CompletableFuture<Void> learner = Federations.startLearner("a", aggregator.port(), trainer,
          b -> b.trustedCertificates(federation.ca()).connectTimeout(Duration.ofSeconds(3)));
      ExecutionException failure =
          assertThrows(ExecutionException.class, () -> learner.get(20, TimeUnit.SECONDS));
      String message = failure.getCause().getMessage();
      assertTrue(message.contains("the aggregator answers without TLS but this learner uses TLS: "
          + "give the aggregator a certificate (--tls-cert, --tls-key)"), message);
      assertEquals(0, trainer.model().sets());
    }
  }

  @Test
  void mutualTls_learnersWithCertificates_train() throws Exception {
    try (Aggregator aggregator = tlsAggregator(true)) {
      TrainingResult result = trainWith(aggregator,
          b -> b.trustedCertificates(federation.ca())
              .clientCertificate(federation.certificate("a"), federation.key("a")),
          b -> b.trustedCertificates(federation.ca())
              .clientCertificate(federation.certificate("b"), federation.key("b")));
      assertAllSucceeded(result);
    }
  }

  @Test
  void mutualTls_learnerWithoutCertificate_refusedFast() throws Exception {
    String message = refused(true, b -> b.trustedCertificates(federation.ca()));
    assertTrue(message.contains("the TLS handshake failed: the aggregator requires a learner "
        + "certificate (mutual TLS) and this learner presents none"), message);
  }

  @Test
  void mutualTls_learnerWithCertificateFromAnotherCa_refusedFast() throws Exception {
    String message = refused(true, b -> b.trustedCertificates(federation.ca())
        .clientCertificate(other.certificate("a"), other.key("a")));
    assertTrue(message.contains("the TLS handshake failed: the aggregator refused the handshake"),
        message);
    assertTrue(message.contains("check that this learner's is signed by the CA the aggregator "
        + "trusts"), message);
  }

  @Test
  void mutualTlsAndLearnerTokens_certificateOfOneLearnerWithTokenOfAnother_permissionDenied()
      throws Exception {
    Secret tokenA = TokenTest.newToken();
    Secret tokenB = TokenTest.newToken();
    TrainingPlan plan = TrainingPlan.builder().rounds(1).learnerWait(Duration.ofSeconds(60))
        .build();
    FedAvg strategy = FedAvg.builder().build();
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .tls(federation.aggregatorCertificate(), federation.aggregatorKey())
        .requireClientCertificates(federation.ca())
        .learnerTokens(Map.of("a", tokenA, "b", tokenB))
        .build().start()) {
      // b's certificate with a's token, calling itself a (the name its token binds).
      FakeTrainer trainer = FakeTrainer.adding(initial, 1f, 10);
      CompletableFuture<Void> learner = Federations.startLearner("a", aggregator.port(), trainer,
          b -> b.trustedCertificates(federation.ca())
              .clientCertificate(federation.certificate("b"), federation.key("b"))
              .token(tokenA));
      ExecutionException failure =
          assertThrows(ExecutionException.class, () -> learner.get(20, TimeUnit.SECONDS));
      String message = failure.getCause().getMessage();
      assertTrue(message.contains("PERMISSION_DENIED: this learner's certificate is issued to "
          + "'b' but its token belongs to learner 'a'"), message);
      assertTrue(message.contains("give it the certificate and the token issued for one name"),
          message);
      assertEquals(0, trainer.model().sets(), "the learner never received parameters");

      // The same learner with its own certificate trains.
      CompletableFuture<Void> own = Federations.startLearner("a", aggregator.port(),
          FakeTrainer.adding(initial, 1f, 10), b -> b.trustedCertificates(federation.ca())
              .clientCertificate(federation.certificate("a"), federation.key("a"))
              .token(tokenA));
      assertEquals(1, aggregator.train(plan, strategy).rounds().get(0).fitSucceeded());
      aggregator.shutdownLearners();
      own.get(10, TimeUnit.SECONDS);
    }
  }

  /**
   * Runs learner "a" as adjusted against a TLS aggregator and returns why it failed, after
   * checking that it failed without waiting out its 30 s connect timeout and never trained.
   */
  private String refused(boolean mutual, UnaryOperator<Learner.Builder> adjust)
      throws Exception {
    try (Aggregator aggregator = tlsAggregator(mutual)) {
      FakeTrainer trainer = FakeTrainer.adding(initial, 1f, 10);
      CompletableFuture<Void> learner =
          Federations.startLearner("a", aggregator.port(), trainer, adjust);
      ExecutionException failure =
          assertThrows(ExecutionException.class, () -> learner.get(20, TimeUnit.SECONDS));
      assertInstanceOf(LearnerException.class, failure.getCause());
      assertEquals(0, trainer.model().sets(), "the learner never received parameters");
      return failure.getCause().getMessage();
    }
  }

  private Aggregator tlsAggregator(boolean mutual) throws Exception {
    plan = TrainingPlan.builder().rounds(2).minAvailableLearners(2)
        .learnerWait(Duration.ofSeconds(60)).build();
    strategy = FedAvg.builder().build();
    Aggregator.Builder builder = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .tls(federation.aggregatorCertificate(), federation.aggregatorKey());
    if (mutual) {
      builder.requireClientCertificates(federation.ca());
    }
    return builder.build().start();
  }

  private TrainingResult trainWith(Aggregator aggregator, UnaryOperator<Learner.Builder> a,
      UnaryOperator<Learner.Builder> b) throws Exception {
    List<CompletableFuture<Void>> learners = List.of(
        Federations.startLearner("a", aggregator.port(), FakeTrainer.adding(initial, 1f, 10), a),
        Federations.startLearner("b", aggregator.port(), FakeTrainer.adding(initial, 3f, 30), b));
    TrainingResult result = aggregator.train(plan, strategy);
    aggregator.shutdownLearners();
    for (CompletableFuture<Void> learner : learners) {
      learner.get(10, TimeUnit.SECONDS);
    }
    return result;
  }

  private static void assertAllSucceeded(TrainingResult result) {
    assertEquals(2, result.rounds().size());
    for (RoundSummary round : result.rounds()) {
      assertEquals(2, round.fitSucceeded(), round.toString());
      assertEquals(2, round.evaluateSucceeded(), round.toString());
    }
  }
}
