package dev.flops.aggregator.internal.tracking;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.mlflow.api.proto.Service;
import org.mlflow.tracking.MlflowClient;
import org.mlflow.tracking.MlflowClientException;
import org.mlflow.tracking.MlflowHttpException;

/**
 * A tracking server through its REST API: experiments, runs, metrics, params and tags through
 * {@code org.mlflow:mlflow-client}; artifacts through the server's artifact proxy ({@code PUT
 * /api/2.0/mlflow-artifacts/artifacts/<path>}), because mlflow-client uploads artifacts only by
 * running the Python {@code mlflow} command line, which a JVM application cannot count on.
 */
final class RestStore implements TrackingStore {
  private static final String ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts/";

  private final URI server;
  private final MlflowClient client;
  private final HttpClient http;
  private final String user;

  RestStore(URI server, String user) {
    this.server = server;
    this.client = new MlflowClient(server.toString());
    this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    this.user = user;
  }

  @Override
  public String uri() {
    return server.toString();
  }

  @Override
  public String experimentId(String name) {
    return client.getExperimentByName(name)
        .map(Service.Experiment::getExperimentId)
        .orElseGet(() -> {
          try {
            return client.createExperiment(name);
          } catch (MlflowHttpException e) {
            if (e.getStatusCode() == 400 && String.valueOf(e.getBodyMessage())
                .contains("RESOURCE_ALREADY_EXISTS")) {
              return client.getExperimentByName(name).orElseThrow(() -> e)
                  .getExperimentId();
            }
            throw e;
          }
        });
  }

  @Override
  public CreatedRun createRun(String experimentId, String runName, long startTimeMs,
      Map<String, String> tags) {
    Service.CreateRun.Builder request = Service.CreateRun.newBuilder()
        .setExperimentId(experimentId)
        .setRunName(runName)
        .setStartTime(startTimeMs)
        .setUserId(user);
    tags.forEach((key, value) -> request.addTags(tag(key, value)));
    Service.RunInfo info = client.createRun(request.build());
    return new CreatedRun(info.getRunId(), info.getArtifactUri());
  }

  @Override
  public String artifactUri(String experimentId, String runId) {
    return client.getRun(runId).getInfo().getArtifactUri();
  }

  @Override
  public void logBatch(String runId, List<MetricPoint> metrics, Map<String, String> params,
      Map<String, String> tags) {
    List<Service.Metric> metricList = new ArrayList<>(metrics.size());
    for (MetricPoint m : metrics) {
      metricList.add(Service.Metric.newBuilder().setKey(m.key()).setValue(m.value())
          .setTimestamp(m.timestampMs()).setStep(m.step()).build());
    }
    List<Service.Param> paramList = new ArrayList<>(params.size());
    params.forEach((k, v) -> paramList.add(Service.Param.newBuilder().setKey(k).setValue(v).build()));
    List<Service.RunTag> tagList = new ArrayList<>(tags.size());
    tags.forEach((k, v) -> tagList.add(tag(k, v)));
    client.logBatch(runId, metricList, paramList, tagList);
  }

  private static Service.RunTag tag(String key, String value) {
    return Service.RunTag.newBuilder().setKey(key).setValue(value).build();
  }

  @Override
  public void setStatus(String runId, RunStatus status, Long endTimeMs) {
    if (endTimeMs == null) {
      client.sendPost("runs/update", "{\"run_id\": \"" + runId + "\", \"status\": \""
          + status.name() + "\"}");
    } else {
      client.setTerminated(runId, Service.RunStatus.valueOf(status.name()), endTimeMs);
    }
  }

  @Override
  public void logArtifact(String runId, String artifactUri, String directory, Path file)
      throws IOException, InterruptedException {
    URI target = artifactTarget(artifactUri, directory + "/" + file.getFileName());
    HttpRequest request = HttpRequest.newBuilder(target)
        .timeout(Duration.ofMinutes(5))
        .header("Content-Type", "application/octet-stream")
        .PUT(HttpRequest.BodyPublishers.ofFile(file))
        .build();
    HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() / 100 != 2) {
      throw new MlflowHttpException(response.statusCode(), "PUT " + target,
          response.body());
    }
  }

  /**
   * Maps a run's artifact URI to the proxy URL: {@code mlflow-artifacts:/0/<run>/artifacts} (or
   * {@code mlflow-artifacts://host:port/...}) becomes {@code
   * <server>/api/2.0/mlflow-artifacts/artifacts/0/<run>/artifacts/<path>}.
   */
  URI artifactTarget(String artifactUri, String path) {
    URI uri = URI.create(artifactUri);
    if (!"mlflow-artifacts".equals(uri.getScheme())) {
      throw new UnsupportedArtifactStoreException("the tracking server stores this run's "
          + "artifacts at " + artifactUri + ", which flops cannot write to; start the server "
          + "with artifact proxying (`mlflow server --serve-artifacts`, the default since "
          + "MLflow 2.0) so that artifact URIs are mlflow-artifacts:/...");
    }
    String base = uri.getHost() == null ? server.toString()
        : "http://" + uri.getHost() + (uri.getPort() < 0 ? "" : ":" + uri.getPort());
    String relative = stripSlashes(uri.getPath()) + "/" + stripSlashes(path);
    StringBuilder encoded = new StringBuilder();
    for (String segment : relative.split("/")) {
      if (!segment.isEmpty()) {
        encoded.append(encoded.length() == 0 ? "" : "/")
            .append(URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20"));
      }
    }
    return URI.create(base + ARTIFACTS_API + encoded);
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

  /** A run whose artifacts live where flops cannot upload to: retrying does not help. */
  static final class UnsupportedArtifactStoreException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UnsupportedArtifactStoreException(String message) {
      super(message);
    }
  }

  @Override
  public boolean isRetryable(Exception failure) {
    if (failure instanceof MlflowHttpException e) {
      return e.getStatusCode() >= 500 || e.getStatusCode() == 429 || e.getStatusCode() == 408;
    }
    if (failure instanceof UnsupportedArtifactStoreException) {
      return false;
    }
    return failure instanceof MlflowClientException || failure instanceof IOException
        || failure.getCause() instanceof ConnectException;
  }

  @Override
  public void close() {
    client.close();
  }
}
