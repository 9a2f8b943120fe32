package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import dev.flops.proto.codec.WireError;
import dev.flops.proto.v1.AggregatorMessage;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Learner tokens over TLS on loopback: learners with a valid token train; a call without one, or
 * with a wrong one, is refused with UNAUTHENTICATED before any handler runs, so it never receives
 * parameters; with per-learner tokens a learner using another's token is refused with
 * PERMISSION_DENIED.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TokenTest {
  // Set by the helper that builds the aggregator, for the test's train(plan, strategy) calls.
  private TrainingPlan plan;
  private FedAvg strategy;

  @TempDir
  static Path dir;
  static TestCertificates certificates;

  private final Parameters initial = Federations.randomParameters(5, false);

  @BeforeAll
  static void makeCertificates() throws Exception {
    certificates = TestCertificates.make(dir.resolve("certificates"));
  }

  static Secret newToken() {
    byte[] bytes = new byte[32];
    new SecureRandom().nextBytes(bytes);
    return Secret.of(HexFormat.of().formatHex(bytes));
  }

  @Test
  void sharedToken_learnersPresentingIt_train() throws Exception {
    Secret token = newToken();
    try (Aggregator aggregator = aggregator(b -> b.learnerToken(token), 2)) {
      List<CompletableFuture<Void>> learners = List.of(
          learner("a", aggregator, FakeTrainer.adding(initial, 1f, 10), token),
          learner("b", aggregator, FakeTrainer.adding(initial, 2f, 10), token));
      TrainingResult result = aggregator.train(plan, strategy);
      aggregator.shutdownLearners();
      for (CompletableFuture<Void> learner : learners) {
        learner.get(10, TimeUnit.SECONDS);
      }
      for (RoundSummary round : result.rounds()) {
        assertEquals(2, round.fitSucceeded(), round.toString());
      }
    }
  }

  @Test
  void learnerWithoutToken_refusedUnauthenticated_neverGetsParameters() throws Exception {
    try (Aggregator aggregator = aggregator(b -> b.learnerToken(newToken()), 1)) {
      FakeTrainer trainer = FakeTrainer.adding(initial, 1f, 10);
      String message = refusal(learner("a", aggregator, trainer, null));
      assertTrue(message.contains("UNAUTHENTICATED: no learner token"), message);
      assertEquals(0, trainer.model().sets(), "the learner never received parameters");
      assertEquals(0, trainer.fits);
    }
  }

  @Test
  void learnerWithWrongToken_refusedUnauthenticated_neverGetsParameters() throws Exception {
    try (Aggregator aggregator = aggregator(b -> b.learnerToken(newToken()), 1)) {
      FakeTrainer trainer = FakeTrainer.adding(initial, 1f, 10);
      String message = refusal(learner("a", aggregator, trainer, newToken()));
      assertTrue(message.contains("UNAUTHENTICATED: the learner token is not valid"), message);
      assertEquals(0, trainer.model().sets(), "the learner never received parameters");
    }
  }

  @Test
  void downloadOfARealTask_withoutValidToken_isRefusedBeforeAnyParameterIsSent()
      throws Exception {
    Secret token = newToken();
    try (Aggregator aggregator = aggregator(b -> b.learnerToken(token), 1);
        SecureRawLearner legit = rawLearner(aggregator, token);
        SecureRawLearner anonymous = rawLearner(aggregator, null);
        SecureRawLearner forger = rawLearner(aggregator, newToken())) {
      trainInBackground(aggregator);
      legit.hello("legit");
      String learnerId = legit.next().getWelcome().getLearnerId();
      AggregatorMessage task = legit.next();
      long round = task.getEnvelope().getRound();

      for (SecureRawLearner intruder : List.of(anonymous, forger)) {
        StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
            () -> intruder.firstDownloadMessage(round, learnerId, task.getTask()));
        assertEquals(Status.Code.UNAUTHENTICATED, refused.getStatus().getCode());
        intruder.hello("intruder");
        assertEquals(Status.Code.UNAUTHENTICATED, intruder.awaitError().getCode());
      }
      // The same request with the token does get the parameters: the token made the difference.
      assertTrue(legit.firstDownloadMessage(round, learnerId, task.getTask()).hasManifest());
    }
  }

  @Test
  void perLearnerTokens_eachLearnerTrainsUnderItsName() throws Exception {
    Secret a = newToken();
    Secret b = newToken();
    try (Aggregator aggregator = aggregator(x -> x.learnerTokens(Map.of("a", a, "b", b)), 2)) {
      List<CompletableFuture<Void>> learners = List.of(
          learner("a", aggregator, FakeTrainer.adding(initial, 1f, 10), a),
          learner("b", aggregator, FakeTrainer.adding(initial, 2f, 10), b));
      TrainingResult result = aggregator.train(plan, strategy);
      aggregator.shutdownLearners();
      for (CompletableFuture<Void> learner : learners) {
        learner.get(10, TimeUnit.SECONDS);
      }
      assertEquals(2, result.rounds().get(1).fitSucceeded());
    }
  }

  @Test
  void perLearnerTokens_anotherLearnersToken_permissionDenied() throws Exception {
    Secret a = newToken();
    Secret b = newToken();
    try (Aggregator aggregator = aggregator(x -> x.learnerTokens(Map.of("a", a, "b", b)), 1);
        SecureRawLearner legit = rawLearner(aggregator, a);
        SecureRawLearner other = rawLearner(aggregator, b)) {
      // A learner calling itself "b" with a's token.
      FakeTrainer trainer = FakeTrainer.adding(initial, 1f, 10);
      String message = refusal(learner("b", aggregator, trainer, a));
      assertTrue(message.contains("PERMISSION_DENIED: this token belongs to learner 'a' but the "
          + "learner calls itself 'b'"), message);
      assertEquals(0, trainer.model().sets());

      // Learner b, authenticated, asking for a's task.
      trainInBackground(aggregator);
      legit.hello("a");
      String learnerId = legit.next().getWelcome().getLearnerId();
      AggregatorMessage task = legit.next();
      StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
          () -> other.firstDownloadMessage(task.getEnvelope().getRound(), learnerId,
              task.getTask()));
      assertEquals(Status.Code.PERMISSION_DENIED, refused.getStatus().getCode());
      // Not IDENTITY (a token of another name), which has the same status: the task's capability.
      assertEquals(Optional.of(WireError.CAPABILITY), WireError.of(refused));
      assertTrue(refused.getStatus().getDescription().contains("belongs to another learner"),
          refused.getStatus().getDescription());
    }
  }

  @Test
  void learnerTokensFile_readsNameTokenLines() throws Exception {
    Secret a = newToken();
    Path file = dir.resolve("tokens-ok");
    Files.writeString(file, "# learner tokens\n\na = " + a.reveal() + "\nb=" + newToken().reveal()
        + "==\n");
    try (Aggregator aggregator = aggregator(x -> x.learnerTokensFile(file), 1)) {
      FakeTrainer trainer = FakeTrainer.adding(initial, 1f, 10);
      learner("a", aggregator, trainer, a);
      TrainingResult result = aggregator.train(plan, strategy);
      assertEquals(1, result.rounds().get(0).fitSucceeded());
    }
  }

  @Test
  void learnerTokensFile_badFiles_failFastNamingFileAndLine_neverTheToken() throws Exception {
    Secret token = newToken();
    String hidden = token.reveal();
    assertBad(dir.resolve("missing"), null, "the learner tokens file " + dir.resolve("missing")
        + " does not exist");
    assertBad(dir.resolve("no-equals"), "a " + hidden + "\n", "line 1 of the learner tokens file "
        + dir.resolve("no-equals") + " is not NAME=TOKEN");
    assertBad(dir.resolve("twice"), "a=" + hidden + "\na=" + newToken().reveal() + "\n",
        "line 2 of the learner tokens file " + dir.resolve("twice") + " names learner 'a' again");
    assertBad(dir.resolve("shared"), "a=" + hidden + "\nb=" + hidden + "\n",
        "learners 'a' and 'b' have the same token; give each learner its own");
    assertBad(dir.resolve("short"), "a=short\n", "line 1 of the learner tokens file "
        + dir.resolve("short") + " (learner 'a'): the secret is shorter than 16 characters; "
        + "generate one with `openssl rand -hex 32`");
    assertBad(dir.resolve("empty"), "# nobody\n", "names no learner");
    IllegalStateException both = assertThrows(IllegalStateException.class, () -> Aggregator
        .builder().model(new ArrayModel(initial)).learnerToken(token)
        .learnerTokens(Map.of("a", newToken())).build());
    assertTrue(both.getMessage().contains("exclude each other"), both.getMessage());
  }

  private static void assertBad(Path file, String content, String expected) throws Exception {
    if (content != null) {
      Files.writeString(file, content);
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Aggregator.builder().learnerTokensFile(file));
    assertTrue(e.getMessage().contains(expected), e.getMessage());
    if (content != null) {
      for (String line : content.split("\n")) {
        int equals = line.indexOf('=');
        String secret = equals < 0 ? line : line.substring(equals + 1);
        if (secret.length() >= 16) {
          assertFalse(e.getMessage().contains(secret.strip()), "the message shows a token");
        }
      }
    }
  }

  private Aggregator aggregator(UnaryOperator<Aggregator.Builder> tokens, int learners)
      throws Exception {
    plan = TrainingPlan.builder().rounds(2).minAvailableLearners(learners)
        .roundTimeout(Duration.ofSeconds(5)).learnerWait(Duration.ofSeconds(60)).build();
    strategy = FedAvg.builder().build();
    return tokens.apply(Aggregator.builder()
            .host("127.0.0.1").port(0)
            .model(new ArrayModel(initial))
            .tls(certificates.aggregatorCertificate(), certificates.aggregatorKey()))
        .build()
        .start();
  }

  /** A hand-driven learner over TLS presenting {@code token} (none if null). */
  private static SecureRawLearner rawLearner(Aggregator aggregator, Secret token)
      throws Exception {
    return new SecureRawLearner(aggregator.port(), certificates.ca(), token);
  }

  /** Trains on another thread; the raw learners never upload, so the outcome is ignored. */
  private void trainInBackground(Aggregator aggregator) {
    CompletableFuture.runAsync(() -> {
      try {
        aggregator.train(plan, strategy);
      } catch (Exception ignored) {
        // The round fails without uploads; these tests look at the refusals only.
      }
    });
  }

  private static CompletableFuture<Void> learner(String name, Aggregator aggregator,
      FakeTrainer trainer, Secret token) {
    return Federations.startLearner(name, aggregator.port(), trainer, b -> {
      Learner.Builder builder = b.trustedCertificates(certificates.ca());
      return token == null ? builder : builder.token(token);
    });
  }

  /** Waits for a learner to fail fast (not by its 30 s connect timeout) and returns why. */
  private static String refusal(CompletableFuture<Void> learner) throws Exception {
    ExecutionException failure =
        assertThrows(ExecutionException.class, () -> learner.get(20, TimeUnit.SECONDS));
    assertInstanceOf(LearnerException.class, failure.getCause());
    return failure.getCause().getMessage();
  }
}
