package dev.flops.aggregator.internal.tracking;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A tracking server through its REST API, spoken directly over {@link HttpClient} with JSON bodies
 * as MLflow's REST reference gives them: experiments, runs, metrics, params and tags; MLflow 3's
 * logged models ({@code POST /api/2.0/mlflow/logged-models}, {@code PATCH .../logged-models/<id>},
 * {@code POST /api/2.0/mlflow/runs/outputs}); artifacts through the server's artifact proxy
 * ({@code PUT /api/2.0/mlflow-artifacts/artifacts/<path>}).
 *
 * <p>Why not {@code org.mlflow:mlflow-client}: it retries every failed status, 4xx included, each
 * time logging "Rate limit exceeded" (a new experiment's 404 printed two false warnings); it
 * uploads artifacts only by running the Python command line; it has no logged-model calls; and
 * the URI with its credentials ended up in its log lines. Here a request is tried once; the
 * {@link Outbox} retries what {@link #isRetryable} allows (I/O errors, 408, 429, 5xx), with
 * backoff. Every request carries the {@link Credentials}; no message carries them.
 */
final class RestStore implements TrackingStore {
  private static final String API = "/api/2.0/mlflow/";
  private static final String ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts/";
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(60);

  private final URI server;
  private final String printable;
  private final Credentials credentials;
  private final HttpClient http;
  private final String user;

  RestStore(URI server, Credentials credentials, String user) {
    URI bare = Credentials.withoutUserInfo(server);
    String text = bare.toString();
    this.server = URI.create(text.endsWith("/") ? text.substring(0, text.length() - 1) : text);
    this.printable = this.server.toString();
    this.credentials = credentials;
    this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    this.user = user;
  }

  /** A non-2xx answer: the HTTP status and MLflow's error code, with credentials redacted. */
  static final class HttpError extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final int status;
    final String errorCode;

    HttpError(int status, String errorCode, String message) {
      super(message);
      this.status = status;
      this.errorCode = errorCode;
    }
  }

  @Override
  public String uri() {
    return printable;
  }

  @Override
  public String experimentId(String name) throws IOException, InterruptedException {
    try {
      return getExperimentId(name);
    } catch (HttpError e) {
      if (e.status != 404) {
        throw e;
      }
    }
    JsonObject body = new JsonObject();
    body.addProperty("name", name);
    try {
      return call("POST", "experiments/create", body).get("experiment_id").getAsString();
    } catch (HttpError e) {
      if ("RESOURCE_ALREADY_EXISTS".equals(e.errorCode)) {
        return getExperimentId(name); // created meanwhile by another client
      }
      throw e;
    }
  }

  private String getExperimentId(String name) throws IOException, InterruptedException {
    return call("GET", "experiments/get-by-name?experiment_name=" + encode(name), null)
        .getAsJsonObject("experiment").get("experiment_id").getAsString();
  }

  @Override
  public CreatedRun createRun(String experimentId, String runName, long startTimeMs,
      Map<String, String> tags) throws IOException, InterruptedException {
    JsonObject body = new JsonObject();
    body.addProperty("experiment_id", experimentId);
    body.addProperty("user_id", user);
    body.addProperty("run_name", runName);
    body.addProperty("start_time", startTimeMs);
    body.add("tags", keyValues(tags));
    JsonObject info = call("POST", "runs/create", body).getAsJsonObject("run")
        .getAsJsonObject("info");
    return new CreatedRun(info.get("run_id").getAsString(), info.get("artifact_uri").getAsString());
  }

  @Override
  public String artifactUri(String experimentId, String runId)
      throws IOException, InterruptedException {
    return call("GET", "runs/get?run_id=" + encode(runId), null).getAsJsonObject("run")
        .getAsJsonObject("info").get("artifact_uri").getAsString();
  }

  @Override
  public void logBatch(String runId, List<MetricPoint> metrics, Map<String, String> params,
      Map<String, String> tags) throws IOException, InterruptedException {
    logBatch(runId, null, metrics, params, tags);
  }

  /**
   * Points identical to ones the run already has, now with the model's id: MLflow keeps the run's
   * history as it is (it skips a metric point it already holds) and links them to the model.
   */
  @Override
  public void logModelMetrics(String experimentId, String modelId, String runId,
      List<MetricPoint> metrics) throws IOException, InterruptedException {
    logBatch(runId, modelId, metrics, Map.of(), Map.of());
  }

  private void logBatch(String runId, String modelId, List<MetricPoint> metrics,
      Map<String, String> params, Map<String, String> tags)
      throws IOException, InterruptedException {
    JsonObject body = new JsonObject();
    body.addProperty("run_id", runId);
    JsonArray metricList = new JsonArray();
    for (MetricPoint m : metrics) {
      JsonObject metric = new JsonObject();
      metric.addProperty("key", m.key());
      if (Double.isFinite(m.value())) {
        metric.addProperty("value", m.value());
      } else {
        // proto3 JSON spells the non-finite doubles as strings; MLflow accepts them.
        metric.addProperty("value", Double.isNaN(m.value()) ? "NaN"
            : m.value() > 0 ? "Infinity" : "-Infinity");
      }
      metric.addProperty("timestamp", m.timestampMs());
      metric.addProperty("step", m.step());
      if (modelId != null) {
        metric.addProperty("model_id", modelId);
      }
      metricList.add(metric);
    }
    body.add("metrics", metricList);
    body.add("params", keyValues(params));
    body.add("tags", keyValues(tags));
    call("POST", "runs/log-batch", body);
  }

  @Override
  public void setStatus(String runId, RunStatus status, Long endTimeMs)
      throws IOException, InterruptedException {
    JsonObject body = new JsonObject();
    body.addProperty("run_id", runId);
    body.addProperty("status", status.name());
    if (endTimeMs != null) {
      body.addProperty("end_time", endTimeMs);
    }
    call("POST", "runs/update", body);
  }

  @Override
  public CreatedModel createLoggedModel(String experimentId, String name, String sourceRunId,
      Map<String, String> params, Map<String, String> tags)
      throws IOException, InterruptedException {
    JsonObject body = new JsonObject();
    body.addProperty("experiment_id", experimentId);
    body.addProperty("name", name);
    body.addProperty("model_type", ModelArtifacts.MODEL_TYPE);
    body.addProperty("source_run_id", sourceRunId);
    body.add("params", keyValues(params));
    body.add("tags", keyValues(tags));
    JsonObject info = call("POST", "logged-models", body).getAsJsonObject("model")
        .getAsJsonObject("info");
    return new CreatedModel(info.get("model_id").getAsString(),
        info.get("artifact_uri").getAsString());
  }

  @Override
  public void finalizeLoggedModel(String experimentId, String modelId)
      throws IOException, InterruptedException {
    JsonObject body = new JsonObject();
    body.addProperty("model_id", modelId);
    body.addProperty("status", "LOGGED_MODEL_READY");
    call("PATCH", "logged-models/" + encode(modelId), body);
  }

  @Override
  public void logOutputs(String runId, String modelId, long step)
      throws IOException, InterruptedException {
    JsonObject model = new JsonObject();
    model.addProperty("model_id", modelId);
    model.addProperty("step", step);
    JsonArray models = new JsonArray();
    models.add(model);
    JsonObject body = new JsonObject();
    body.addProperty("run_id", runId);
    body.add("models", models);
    call("POST", "runs/outputs", body);
  }

  private static JsonArray keyValues(Map<String, String> values) {
    JsonArray list = new JsonArray();
    values.forEach((k, v) -> {
      JsonObject kv = new JsonObject();
      kv.addProperty("key", k);
      kv.addProperty("value", v);
      list.add(kv);
    });
    return list;
  }

  private JsonObject call(String method, String endpoint, JsonObject body)
      throws IOException, InterruptedException {
    HttpRequest.BodyPublisher publisher = body == null ? HttpRequest.BodyPublishers.noBody()
        : HttpRequest.BodyPublishers.ofString(body.toString(), StandardCharsets.UTF_8);
    HttpRequest.Builder request = request(URI.create(server + API + endpoint))
        .method(method, publisher);
    if (body != null) {
      request.header("Content-Type", "application/json");
    }
    String answer = send(request.build(), method + " " + API + endpoint);
    JsonElement parsed = answer.isBlank() ? new JsonObject() : JsonParser.parseString(answer);
    return parsed.isJsonObject() ? parsed.getAsJsonObject() : new JsonObject();
  }

  private HttpRequest.Builder request(URI target) {
    HttpRequest.Builder request = HttpRequest.newBuilder(target).timeout(REQUEST_TIMEOUT);
    credentials.authorization().ifPresent(value -> request.header("Authorization", value));
    return request;
  }

  private String send(HttpRequest request, String what) throws IOException, InterruptedException {
    HttpResponse<String> response;
    try {
      response = http.send(request, HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      // The JDK's messages may quote the URI; rebuild the exception without it.
      IOException clean = new IOException(what + " to " + printable + " failed: "
          + e.getClass().getSimpleName() + (e.getMessage() == null ? ""
              : ": " + credentials.redact(e.getMessage())));
      clean.setStackTrace(e.getStackTrace());
      throw clean;
    }
    int status = response.statusCode();
    if (status / 100 == 2) {
      return response.body();
    }
    String errorCode = "";
    String message = response.body();
    try {
      JsonObject error = JsonParser.parseString(response.body()).getAsJsonObject();
      errorCode = error.has("error_code") ? error.get("error_code").getAsString() : "";
      message = error.has("message") ? error.get("message").getAsString() : message;
    } catch (RuntimeException notJson) {
      // An HTML page from a proxy, say: keep its text.
    }
    if (message.length() > 500) {
      message = message.substring(0, 500) + "...";
    }
    String hint = status == 401 || status == 403
        ? "; set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)"
            + " to credentials the tracking server accepts"
        : "";
    throw new HttpError(status, errorCode, credentials.redact(String.format(
        "%s answered HTTP %d%s: %s%s", what, status, errorCode.isEmpty() ? "" : " " + errorCode,
        message, hint)));
  }

  @Override
  public void logArtifact(String runId, String artifactUri, String directory, Path file)
      throws IOException, InterruptedException {
    URI target = artifactTarget(artifactUri, directory + "/" + file.getFileName());
    HttpRequest request = request(target)
        .timeout(Duration.ofMinutes(5))
        .header("Content-Type", "application/octet-stream")
        .PUT(HttpRequest.BodyPublishers.ofFile(file))
        .build();
    send(request, "PUT " + target.getRawPath());
  }

  /**
   * Maps an artifact URI to the proxy URL: {@code mlflow-artifacts:/0/<run>/artifacts} (or
   * {@code mlflow-artifacts://host:port/...}) becomes {@code
   * <server>/api/2.0/mlflow-artifacts/artifacts/0/<run>/artifacts/<path>}.
   */
  URI artifactTarget(String artifactUri, String path) {
    URI uri = URI.create(artifactUri);
    if (!"mlflow-artifacts".equals(uri.getScheme())) {
      throw new UnsupportedArtifactStoreException("the tracking server stores these "
          + "artifacts at " + credentials.redact(artifactUri) + ", which flops cannot write to; "
          + "start the server with artifact proxying (`mlflow server --serve-artifacts`, the "
          + "default since MLflow 2.0) so that artifact URIs are mlflow-artifacts:/...");
    }
    String base = uri.getHost() == null ? server.toString()
        : server.getScheme() + "://" + uri.getHost() + (uri.getPort() < 0 ? "" : ":" + uri.getPort());
    String relative = stripSlashes(uri.getPath()) + "/" + stripSlashes(path);
    StringBuilder encoded = new StringBuilder();
    for (String segment : relative.split("/")) {
      if (!segment.isEmpty()) {
        encoded.append(encoded.length() == 0 ? "" : "/").append(encode(segment));
      }
    }
    return URI.create(base + ARTIFACTS_API + encoded);
  }

  private static String encode(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }

  private static String stripSlashes(String s) {
    int start = 0;
    int end = s.length();
    while (start < end && s.charAt(start) == '/') {
      start++;
    }
    while (end > start && s.charAt(end - 1) == '/') {
      end--;
    }
    return s.substring(start, end);
  }

  /** Artifacts that live where flops cannot upload to: retrying does not help. */
  static final class UnsupportedArtifactStoreException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UnsupportedArtifactStoreException(String message) {
      super(message);
    }
  }

  @Override
  public boolean isCredentialFailure(Exception failure) {
    return failure instanceof HttpError e && (e.status == 401 || e.status == 403);
  }

  @Override
  public boolean isRetryable(Exception failure) {
    if (failure instanceof HttpError e) {
      return e.status >= 500 || e.status == 429 || e.status == 408;
    }
    return failure instanceof IOException;
  }
}
