package dev.flops.aggregator.internal.tracking;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The MLflow operations the tracker needs, on one backend. Calls come from one thread at a time.
 * A failed call throws; {@link #isRetryable} tells whether trying again may help.
 */
interface TrackingStore extends AutoCloseable {

  /** MLflow's run status, with the numbers the file store writes. */
  enum RunStatus {
    RUNNING(1), FINISHED(3), FAILED(4), KILLED(5);

    final int number;

    RunStatus(int number) {
      this.number = number;
    }
  }

  /** One metric value, as MLflow stores it. */
  record MetricPoint(String key, double value, long timestampMs, long step) {}

  /** A created run: its id and where its artifacts go. */
  record CreatedRun(String runId, String artifactUri) {}

  /** A created MLflow 3 logged model: its id ({@code m-<32 hex>}) and where its artifacts go. */
  record CreatedModel(String modelId, String artifactUri) {}

  /** The tracking URI, as MLflow would print it. */
  String uri();

  /** Returns the id of the active experiment with this name, creating it if there is none. */
  String experimentId(String name) throws Exception;

  /** Creates a RUNNING run; tags include mlflow.runName. */
  CreatedRun createRun(String experimentId, String runName, long startTimeMs,
      Map<String, String> tags) throws Exception;

  /** Returns the artifact URI of an existing run (one created by an earlier process). */
  String artifactUri(String experimentId, String runId) throws Exception;

  /** Logs metrics, params and tags to a run. */
  void logBatch(String runId, List<MetricPoint> metrics, Map<String, String> params,
      Map<String, String> tags) throws Exception;

  /** Sets a run's status; {@code endTimeMs} null leaves the end time unset. */
  void setStatus(String runId, RunStatus status, Long endTimeMs) throws Exception;

  /** Stores a local file as the artifact {@code directory/<file name>} of a run. */
  void logArtifact(String runId, String artifactUri, String directory, Path file) throws Exception;

  /**
   * Creates an MLflow 3 logged model (status PENDING) in an experiment, produced by a run; MLflow
   * 3 lists it in the experiment's Models tab once it is finalized.
   */
  CreatedModel createLoggedModel(String experimentId, String name, String sourceRunId,
      Map<String, String> params, Map<String, String> tags) throws Exception;

  /** Marks a logged model READY, once its artifacts are uploaded. */
  void finalizeLoggedModel(String experimentId, String modelId) throws Exception;

  /**
   * Links metrics a run logged to a logged model (MLflow 3's model metrics, the Models tab's
   * columns); the run's own metric history is left as it is.
   */
  void logModelMetrics(String experimentId, String modelId, String runId,
      List<MetricPoint> metrics) throws Exception;

  /** Records a logged model as an output of a run at a step (MLflow 3's run outputs). */
  void logOutputs(String runId, String modelId, long step) throws Exception;

  /** Tells whether trying a failed call again may succeed (unreachable, 5xx) or not (4xx). */
  boolean isRetryable(Exception failure);

  /** Tells whether the backend refused the credentials (HTTP 401 or 403). */
  default boolean isCredentialFailure(Exception failure) {
    return false;
  }

  @Override
  default void close() {}
}
