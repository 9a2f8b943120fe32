package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.tracking.Tracking;
import java.nio.file.Files;
import java.nio.file.Path;
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
  void unwritableFileStore_failsWhenTheAggregatorIsBuilt() throws Exception {
    Path file = Files.writeString(temp.resolve("not-a-directory"), "x");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Aggregator.builder()
            .model(new ArrayModel(Federations.randomParameters(1, false)))
            .tracking(Tracking.fileStore(file.resolve("mlruns")))
            .build());
    assertTrue(e.getMessage().contains("the MLflow file store directory " + file.resolve("mlruns")
        + " cannot be used"), e.getMessage());
    assertTrue(e.getMessage().contains("choose a writable directory"), e.getMessage());
  }

  @Test
  void fileStore_createsMlflowsDefaultExperimentWhenNew() throws Exception {
    Path root = temp.resolve("fresh");
    Aggregator.builder()
        .model(new ArrayModel(Federations.randomParameters(1, false)))
        .tracking(Tracking.fileStore(root))
        .build()
        .close();
    String meta = Files.readString(root.resolve("0").resolve("meta.yaml"));
    assertTrue(meta.contains("experiment_id: '0'\n") && meta.contains("name: Default\n"), meta);
    assertTrue(Files.isDirectory(root.resolve(".trash")));
  }
}
