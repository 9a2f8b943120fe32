package dev.flops.aggregator.internal.tracking;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** MLflow's credential variables and URI credentials: precedence, errors, redaction, retries. */
class CredentialsTest {
  private static final URI PLAIN = URI.create("http://mlflow.example:5000");
  private static final URI WITH_USER = URI.create("http://bob:uri%40pw@mlflow.example:5000");

  private static String basic(String user, String password) {
    return "Basic " + Base64.getEncoder()
        .encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void precedence_basicFromEnvironment_thenToken_thenUri() {
    Map<String, String> both = Map.of(Credentials.USERNAME_ENV, "alice",
        Credentials.PASSWORD_ENV, "env-pw", Credentials.TOKEN_ENV, "tok");
    assertEquals(Optional.of(basic("alice", "env-pw")),
        Credentials.from(both, WITH_USER).authorization());
    assertEquals(Optional.of("Bearer tok"),
        Credentials.from(Map.of(Credentials.TOKEN_ENV, "tok"), WITH_USER).authorization());
    assertEquals(Optional.of(basic("bob", "uri@pw")),
        Credentials.from(Map.of(), WITH_USER).authorization(), "percent-decoded");
    assertEquals(Optional.empty(), Credentials.from(Map.of(), PLAIN).authorization());
    assertEquals(Optional.empty(), Credentials.from(Map.of(Credentials.TOKEN_ENV, "  "), PLAIN)
        .authorization(), "blank variables are unset");
  }

  @Test
  void halfOfBasicAuthentication_failsNamingTheMissingVariable_notTheValue() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Credentials.from(Map.of(Credentials.USERNAME_ENV, "alice"), PLAIN));
    assertTrue(e.getMessage().contains("MLFLOW_TRACKING_USERNAME is set but "
        + "MLFLOW_TRACKING_PASSWORD is not"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Credentials.from(Map.of(Credentials.PASSWORD_ENV, "only-pw"), PLAIN));
    assertTrue(e.getMessage().contains("MLFLOW_TRACKING_PASSWORD is set but "
        + "MLFLOW_TRACKING_USERNAME is not"), e.getMessage());
    assertFalse(e.getMessage().contains("only-pw"));
  }

  @Test
  void redact_removesUserInfoPasswordsTokensAndTheEncodedHeader() {
    Credentials basic = Credentials.from(Map.of(Credentials.USERNAME_ENV, "alice",
        Credentials.PASSWORD_ENV, "env-pw"), PLAIN);
    String header = basic.authorization().orElseThrow().substring(6);
    String redacted = basic.redact("GET http://alice:env-pw@h:5000/x failed: env-pw " + header);
    assertFalse(redacted.contains("env-pw") || redacted.contains(header), redacted);
    assertTrue(redacted.contains("http://***@h:5000/x"), redacted);
    Credentials token = Credentials.from(Map.of(Credentials.TOKEN_ENV, "tok-123"), PLAIN);
    assertEquals("bearer *** used", token.redact("bearer tok-123 used"));
    Credentials uri = Credentials.from(Map.of(), WITH_USER);
    assertFalse(uri.redact("to " + WITH_USER + " with uri@pw").contains("pw"));
    assertFalse(basic.toString().contains(header));
    assertEquals(URI.create("http://mlflow.example:5000"), Credentials.withoutUserInfo(WITH_USER));
  }

  @Test
  void onlyIoErrorsTimeoutsRateLimitsAndServerErrorsAreRetried() {
    RestStore store = new RestStore(PLAIN, Credentials.from(Map.of(), PLAIN), "test");
    for (int status : new int[] {400, 401, 403, 404, 409, 413, 422}) {
      assertFalse(store.isRetryable(new RestStore.HttpError(status, "", "x")), "HTTP " + status);
    }
    for (int status : new int[] {408, 429, 500, 502, 503, 504}) {
      assertTrue(store.isRetryable(new RestStore.HttpError(status, "", "x")), "HTTP " + status);
    }
    assertTrue(store.isRetryable(new IOException("connection refused")));
    assertFalse(store.isRetryable(new RestStore.UnsupportedArtifactStoreException("s3")));
    assertFalse(store.isRetryable(new IllegalStateException("bug")));
  }
}
