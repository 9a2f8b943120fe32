package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Parameters;
import dev.flops.api.Secret;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * No token ever reaches a log: a federation with per-learner tokens runs with learners that
 * succeed and learners that are refused (wrong token, another learner's token), over TLS and in
 * plaintext, bad token files fail, and secrets are printed as a careless caller would; then
 * everything the process logged (slf4j and java.util.logging) and tracked (the MLflow file
 * store) is searched for every token.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SecretsNotLoggedTest {
  private static final Logger log = LoggerFactory.getLogger(SecretsNotLoggedTest.class);

  @TempDir
  Path dir;

  private final Parameters initial = Federations.randomParameters(13, false);

  @Test
  void noTokenAppearsInLogsOrMessages() throws Exception {
    TestCertificates certificates = TestCertificates.make(dir.resolve("certificates"));
    Secret a = TokenTest.newToken();
    Secret b = TokenTest.newToken();
    Secret stranger = TokenTest.newToken();
    Secret shared = TokenTest.newToken();
    List<Secret> all = List.of(a, b, stranger, shared);

    Path mlruns = dir.resolve("mlruns");
    String logs;
    try (LogCapture capture = new LogCapture()) {
      log.info("printed carelessly: {} {} {}", a, Map.of("a", a), new ServerSecurity());
      ServerSecurity security = new ServerSecurity();
      security.learnerTokens = Map.of("a", a);
      security.sharedToken = shared;
      log.info("security settings: {}", security);

      Path tokensFile = dir.resolve("tokens");
      Files.writeString(tokensFile, "a=" + a.reveal() + "\nb " + b.reveal() + "\n");
      IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
          () -> Aggregator.builder().learnerTokensFile(tokensFile));
      log.warn("bad tokens file", bad);
      Files.writeString(tokensFile, "a=" + a.reveal() + "\nb=" + b.reveal() + "\n");

      TrainingPlan plan = TrainingPlan.builder().rounds(2).minAvailableLearners(2)
          .learnerWait(Duration.ofSeconds(60)).tracking(Tracking.fileStore(mlruns)).build();
      FedAvg strategy = FedAvg.builder().build();
      try (Aggregator aggregator = Aggregator.builder()
          .host("127.0.0.1").port(0)
          .model(new ArrayModel(initial))
          .tls(certificates.aggregatorCertificate(), certificates.aggregatorKey())
          .learnerTokensFile(tokensFile)
          .build()
          .start()) {
        CompletableFuture<Void> wrong = Federations.startLearner("c", aggregator.port(),
            FakeTrainer.adding(initial, 1f, 10),
            x -> x.trustedCertificates(certificates.ca()).token(stranger));
        CompletableFuture<Void> impostor = Federations.startLearner("b", aggregator.port(),
            FakeTrainer.adding(initial, 1f, 10),
            x -> x.trustedCertificates(certificates.ca()).token(a));
        assertThrows(Exception.class, () -> wrong.get(20, TimeUnit.SECONDS));
        assertThrows(Exception.class, () -> impostor.get(20, TimeUnit.SECONDS));
        List<CompletableFuture<Void>> learners = List.of(
            Federations.startLearner("a", aggregator.port(), FakeTrainer.adding(initial, 1f, 10),
                x -> x.trustedCertificates(certificates.ca()).token(a)),
            Federations.startLearner("b", aggregator.port(), FakeTrainer.adding(initial, 2f, 10),
                x -> x.trustedCertificates(certificates.ca()).token(b)));
        TrainingResult result = aggregator.train(plan, strategy);
        aggregator.shutdownLearners();
        for (CompletableFuture<Void> learner : learners) {
          learner.get(10, TimeUnit.SECONDS);
        }
        assertEquals(2, result.rounds().get(1).fitSucceeded());
      }

      // Plaintext with a shared token: warned about, and still never logged.
      TrainingPlan plaintextPlan = TrainingPlan.builder().rounds(1)
          .tracking(Tracking.fileStore(mlruns)).build();
      FedAvg plaintextStrategy = FedAvg.builder().build();
      try (Aggregator aggregator = Aggregator.builder()
          .host("127.0.0.1").port(0)
          .model(new ArrayModel(initial))
          .learnerToken(shared)
          .build()
          .start()) {
        CompletableFuture<Void> learner = Federations.startLearner("p", aggregator.port(),
            FakeTrainer.adding(initial, 1f, 10), x -> x.token(shared));
        aggregator.train(plaintextPlan, plaintextStrategy);
        aggregator.shutdownLearners();
        learner.get(10, TimeUnit.SECONDS);
      }
      logs = capture.text();
    }

    // The capture saw the federation, the refusals and the warnings...
    assertTrue(logs.contains("Secret[redacted]"), "careless printing captured");
    assertTrue(logs.contains("learner learner-1 (a) joined") || logs.contains("(a) joined"), logs);
    assertTrue(logs.contains("UNAUTHENTICATED: the learner token is not valid"), logs);
    assertTrue(logs.contains("PERMISSION_DENIED: this token belongs to learner 'a'"), logs);
    assertTrue(logs.contains("line 2 of the learner tokens file"), logs);
    assertTrue(logs.contains("learner tokens without TLS"), logs);
    assertTrue(logs.contains("sends its token without TLS"), logs);
    // ...and so did the tracking store; neither holds a token, nor a long piece of one.
    StringBuilder tracked = new StringBuilder();
    try (Stream<Path> files = Files.walk(mlruns)) {
      for (Path file : files.filter(Files::isRegularFile).toList()) {
        // Latin-1 reads any bytes (model artifacts too); tokens are ASCII either way.
        tracked.append(file).append('\n')
            .append(new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1))
            .append('\n');
      }
    }
    assertTrue(tracked.toString().contains("min_available_learners"), "params were tracked");
    logs = logs + tracked;
    for (Secret secret : all) {
      String token = secret.reveal();
      for (int i = 0; i + 12 <= token.length(); i += 4) {
        assertFalse(logs.contains(token.substring(i, i + 12)), "a token appears in the logs");
      }
    }
  }
}
