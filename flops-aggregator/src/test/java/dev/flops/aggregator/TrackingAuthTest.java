package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.TrackingInfo;
import dev.flops.api.TrainingResult;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tracking server that requires authentication, as {@code mlflow server --app-name basic-auth}
 * does: MLflow's credential variables ({@code MLFLOW_TRACKING_USERNAME}/{@code
 * MLFLOW_TRACKING_PASSWORD}, {@code MLFLOW_TRACKING_TOKEN}) and credentials in the URI are sent
 * with every request, artifact uploads included, and never printed. The variables are set on a
 * real aggregator process ({@link TrackedTrainingMain}), since a JVM cannot change its own
 * environment. The server is {@link FakeMlflowServer}, NOT a real MLflow: none can be installed
 * here (MLflow is a Python package and PyPI is unreachable from this machine).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TrackingAuthTest {
  private static final String USER = "alice";
  private static final String PASSWORD = "Zq9-s3cret:pw@x";

  @TempDir
  Path dir;

  private static String basic(String user, String password) {
    return "Basic " + Base64.getEncoder()
        .encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  private String trainInChild(FakeMlflowServer server, Map<String, String> environment)
      throws Exception {
    try (ChildJvm child = ChildJvm.start("tracked-training", List.of(), environment,
        TrackedTrainingMain.class, dir.resolve("child.log"), "--tracking-uri", server.uri(),
        "--outbox", dir.resolve("outbox").toString(), "--rounds", "2")) {
      String tracked = child.awaitLine(l -> l.startsWith("TRACKED"), Duration.ofSeconds(60));
      assertEquals(0, child.awaitExit(Duration.ofSeconds(30)), child.output());
      assertEquals("TRACKED true - 0", tracked, child.output());
      return child.output();
    }
  }

  private static void assertEveryRequestAuthenticated(FakeMlflowServer server, String expected) {
    assertEquals(List.of(), server.violations);
    assertEquals(server.requests.size(), server.authorizations.size());
    for (int i = 0; i < server.requests.size(); i++) {
      assertEquals(expected, server.authorizations.get(i), server.requests.get(i).method() + " "
          + server.requests.get(i).path());
    }
    assertTrue(server.requests.stream().anyMatch(r -> r.method().equals("PUT")),
        "artifact uploads were among them");
    assertEquals(1, server.loggedModels.size(), "the model arrived");
    assertEquals(3, server.runs.size());
  }

  @Test
  void basicAuthFromEnvironment_everyCallAndUploadCarriesIt_passwordNeverPrinted()
      throws Exception {
    try (FakeMlflowServer server = new FakeMlflowServer()) {
      server.requiredAuthorization = basic(USER, PASSWORD);
      String output = trainInChild(server, Map.of("MLFLOW_TRACKING_USERNAME", USER,
          "MLFLOW_TRACKING_PASSWORD", PASSWORD));
      assertEveryRequestAuthenticated(server, basic(USER, PASSWORD));
      assertFalse(output.contains(PASSWORD), output);
      assertFalse(output.contains(server.requiredAuthorization.substring(6)), output);
    }
  }

  @Test
  void tokenFromEnvironment_sentAsBearerOnEveryCall() throws Exception {
    String token = "tok-" + java.util.UUID.randomUUID();
    try (FakeMlflowServer server = new FakeMlflowServer()) {
      server.requiredAuthorization = "Bearer " + token;
      String output = trainInChild(server, Map.of("MLFLOW_TRACKING_TOKEN", token));
      assertEveryRequestAuthenticated(server, "Bearer " + token);
      assertFalse(output.contains(token), output);
    }
  }

  private static TrainingResult train(Tracking tracking) throws Exception {
    return TrackedTrainings.train(tracking, 2, 51, new dev.flops.api.FederationObserver() {});
  }

  @Test
  void credentialsInTheUri_usedForUploadsToo_neverInLogsResultsOrMessages() throws Exception {
    try (FakeMlflowServer server = new FakeMlflowServer();
        LogCapture capture = new LogCapture()) {
      server.requiredAuthorization = basic(USER, PASSWORD);
      server.failNext.set(2); // failures make the tracker print the server's URI
      String encodedPassword = java.net.URLEncoder.encode(PASSWORD, StandardCharsets.UTF_8);
      String uri = server.uri().replace("http://", "http://" + USER + ":" + encodedPassword + "@");
      Tracking tracking = Tracking.uri(uri).outbox(dir.resolve("outbox"))
          .retryBackoff(Duration.ofMillis(20), Duration.ofMillis(50));
      TrainingResult result = train(tracking);
      String printed = capture.text() + tracking + tracking.trackingUri() + result;

      TrackingInfo info = result.trackingInfo().orElseThrow();
      assertEquals(List.of(), info.unsent());
      assertEquals(server.uri(), info.trackingUri(), "the printable URI has no credentials");
      assertEveryRequestAuthenticated(server, basic(USER, PASSWORD));
      assertFalse(printed.contains(PASSWORD), printed);
      assertFalse(printed.contains(encodedPassword), printed);
      assertTrue(capture.text().contains("is failing"), "the failure was logged");
    }
  }

  @Test
  void wrongPassword_401NotRetried_callsKeptUntilTheCredentialsAreFixed_passwordNotPrinted()
      throws Exception {
    try (FakeMlflowServer server = new FakeMlflowServer();
        LogCapture capture = new LogCapture()) {
      server.requiredAuthorization = basic(USER, PASSWORD);
      String wrong = "Wr0ng-pa55";
      Path outbox = dir.resolve("outbox");
      Tracking tracking = Tracking.uri(server.uri().replace("http://",
          "http://" + USER + ":" + wrong + "@")).outbox(outbox);
      TrackingInfo info = train(tracking).trackingInfo().orElseThrow();
      String logs = capture.text();

      assertFalse(info.tracked());
      assertEquals(1, server.requests.size(), "the 401 is not retried, and nothing more is "
          + "sent with credentials the server refuses: " + server.requests);
      assertEquals(outbox.toString(), info.pendingOutbox().orElseThrow(),
          "nothing is lost: every call waits for the right credentials");
      assertTrue(logs.contains("refused the credentials") && logs.contains(
          "MLFLOW_TRACKING_USERNAME") && logs.contains("flush-tracking"), logs);
      assertFalse(logs.contains(wrong), logs);
      assertFalse(logs.contains("Rate limit"), logs);
      try (java.util.stream.Stream<Path> files = java.nio.file.Files.walk(outbox)) {
        for (Path file : files.filter(f -> f.toString().endsWith(".jsonl")).toList()) {
          String kept = java.nio.file.Files.readString(file);
          assertFalse(kept.contains(wrong) || kept.contains(USER + ":"), "no credentials on "
              + "disk: " + kept);
        }
      }

      // With the right password, the same outbox is delivered in full.
      String right = java.net.URLEncoder.encode(PASSWORD, StandardCharsets.UTF_8);
      dev.flops.aggregator.tracking.TrackingOutbox.Result result =
          dev.flops.aggregator.tracking.TrackingOutbox.flush(Tracking.uri(server.uri()
              .replace("http://", "http://" + USER + ":" + right + "@")).outbox(outbox),
              Duration.ofSeconds(20));
      assertEquals(0, result.pending());
      assertEquals(List.of(), result.refused());
      assertEquals(3, server.runs.size());
      assertEquals(1, server.loggedModels.size());
      server.runs.values().forEach(run -> assertEquals("FINISHED",
          run.getAsJsonObject("info").get("status").getAsString()));
    }
  }
}
