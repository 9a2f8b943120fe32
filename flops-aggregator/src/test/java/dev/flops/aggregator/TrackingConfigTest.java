package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.strategy.FedAvg;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tracking URIs and directories are checked when the aggregator is built, with clear errors. */
class TrackingConfigTest {

  @TempDir
  Path temp;

  @Test
  void uriForms_selectTheBackendAsMlflowDoes() {
    assertEquals(Tracking.Backend.SERVER, Tracking.uri("http://127.0.0.1:5000").backend());
    assertEquals("http://127.0.0.1:5000", Tracking.uri("http://127.0.0.1:5000/").trackingUri());
    assertEquals(Tracking.Backend.SERVER, Tracking.uri("https://mlflow.example").backend());
    assertEquals(temp.resolve("runs"),
        Tracking.uri(temp.resolve("runs").toUri().toString()).directory().orElseThrow());
    assertEquals(Path.of("mlruns").toAbsolutePath(),
        Tracking.uri("mlruns").directory().orElseThrow());
    assertFalse(Tracking.off().enabled());
  }

  @Test
  void environment_mlflowTrackingUriWins_elseMlruns() {
    assertEquals("http://h:1", Tracking.fromEnvironment(
        Map.of(Tracking.TRACKING_URI_ENV, "http://h:1")).trackingUri());
    assertEquals(Path.of("mlruns").toAbsolutePath(),
        Tracking.fromEnvironment(Map.of()).directory().orElseThrow());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Tracking.fromEnvironment(Map.of(Tracking.TRACKING_URI_ENV, "http://")));
    assertTrue(e.getMessage().contains("MLFLOW_TRACKING_URI"), e.getMessage());
    assertTrue(e.getMessage().contains("'http://'"), e.getMessage());
  }

  @Test
  void invalidUris_failWithWhatToUse() {
    IllegalArgumentException sqlite = assertThrows(IllegalArgumentException.class,
        () -> Tracking.uri("sqlite:///mlflow.db"));
    assertTrue(sqlite.getMessage().contains("unsupported tracking URI scheme 'sqlite'")
        && sqlite.getMessage().contains("mlflow server --backend-store-uri"), sqlite.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Tracking.uri(" "));
    assertThrows(IllegalArgumentException.class, () -> Tracking.uri("http://bad host:5000"));
    assertThrows(IllegalArgumentException.class, () -> Tracking.server("ftp://h"));
    assertThrows(IllegalArgumentException.class, () -> Tracking.off().experimentName(" "));
    assertThrows(IllegalArgumentException.class,
        () -> Tracking.off().retryBackoff(java.time.Duration.ZERO, java.time.Duration.ZERO));
  }

  @Test
  void unwritableFileStore_failsWhenATrainingStarts() throws Exception {
    Path file = Files.writeString(temp.resolve("not-a-directory"), "x");
    IllegalArgumentException e;
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(Federations.randomParameters(1, false))).build().start()) {
      e = assertThrows(IllegalArgumentException.class, () -> aggregator.train(
          TrainingPlan.builder().tracking(Tracking.fileStore(file.resolve("mlruns"))).build(),
          FedAvg.withDefaults()));
    }
    assertTrue(e.getMessage().contains("the MLflow file store directory " + file.resolve("mlruns")
        + " cannot be used"), e.getMessage());
    assertTrue(e.getMessage().contains("choose a writable directory"), e.getMessage());
  }

  @Test
  void fileStore_createsMlflowsDefaultExperimentWhenNew() throws Exception {
    Path root = temp.resolve("fresh");
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(Federations.randomParameters(1, false))).build().start()) {
      // No learner comes: the training fails after its short wait, the store exists by then.
      assertThrows(TrainingException.class, () -> aggregator.train(TrainingPlan.builder()
          .tracking(Tracking.fileStore(root)).learnerWait(Duration.ofMillis(100)).build(),
          FedAvg.withDefaults()));
    }
    String meta = Files.readString(root.resolve("0").resolve("meta.yaml"));
    assertTrue(meta.contains("experiment_id: '0'\n") && meta.contains("name: Default\n"), meta);
    assertTrue(Files.isDirectory(root.resolve(".trash")));
  }

  @Test
  void credentialsInTheUri_neverInTheUriPrintedOrInMessages() {
    Tracking tracking = Tracking.uri("http://alice:s3cr3t-pw@mlflow.example:5000");
    assertEquals("http://***@mlflow.example:5000", tracking.trackingUri());
    assertFalse(tracking.toString().contains("s3cr3t-pw"), tracking.toString());
    assertEquals("s3cr3t-pw", tracking.serverUri().orElseThrow().getUserInfo().split(":")[1]);
    for (String bad : List.of("http://alice:s3cr3t-pw@bad host:5000",
        "http://alice:s3cr3t-pw@/nohost", "ftp://alice:s3cr3t-pw@h")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Tracking.uri(bad));
      for (Throwable t = e; t != null; t = t.getCause()) {
        assertFalse(String.valueOf(t.getMessage()).contains("s3cr3t-pw"), t.getMessage());
      }
    }
  }

  @Test
  void outboxAndSystemMetricsInterval_validated() {
    Tracking tracking = Tracking.uri("http://127.0.0.1:5000");
    assertEquals(Path.of(Tracking.DEFAULT_OUTBOX).toAbsolutePath(), tracking.outbox());
    assertEquals(Duration.ofSeconds(10), tracking.systemMetricsInterval(), "MLflow's default");
    assertEquals(Duration.ZERO, tracking.systemMetricsInterval(Duration.ZERO)
        .systemMetricsInterval());
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> tracking.systemMetricsInterval(Duration.ofMillis(50))).getMessage()
        .contains("systemMetricsInterval must be zero (off) or at least 100 ms but was 50 ms"));
    assertThrows(IllegalArgumentException.class,
        () -> tracking.systemMetricsInterval(Duration.ofSeconds(-1)));
    assertThrows(NullPointerException.class, () -> tracking.outbox(null));
    Path relative = Path.of("some", "outbox");
    assertEquals(relative.toAbsolutePath(), tracking.outbox(relative).outbox());
    assertEquals(tracking.outbox(relative).outbox(), tracking.outbox(relative)
        .experimentName("x").flushTimeout(Duration.ofSeconds(1)).outbox(), "kept by copies");
  }
}
