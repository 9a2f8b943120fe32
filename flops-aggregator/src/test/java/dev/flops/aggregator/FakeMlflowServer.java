package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * NOT a real MLflow server: a local HTTP server that answers the part of MLflow's REST API flops
 * uses, and checks every request's method, path and JSON body against MLflow's REST API reference
 * (https://mlflow.org/docs/latest/rest-api.html: experiments/get-by-name, experiments/create,
 * runs/create, runs/log-batch, runs/update, runs/get; MLflow 3's logged models: POST
 * logged-models, PATCH logged-models/&lt;id&gt; (finalize), POST runs/outputs; and the artifact
 * proxy's PUT /api/2.0/mlflow-artifacts/artifacts/&lt;path&gt;, for runs and logged models). A real server cannot be used in these tests:
 * MLflow is a Python package and PyPI is not reachable from this build machine (only Maven
 * Central and Debian's archive are), and no Debian package ships it.
 *
 * <p>Every violation is recorded in {@link #violations}; tests assert it stays empty. {@link
 * #failNext} makes the next N requests answer 500, {@link #down} makes every request answer 503,
 * {@link #requiredAuthorization} makes every request without that Authorization header answer
 * 401 (as {@code mlflow server --app-name basic-auth} does).
 */
final class FakeMlflowServer implements AutoCloseable {

  /** One request as received. */
  record Request(String method, String path, String query, JsonObject body, byte[] raw) {}

  final List<Request> requests = new CopyOnWriteArrayList<>();
  final List<String> violations = new CopyOnWriteArrayList<>();
  final Map<String, String> experimentsByName = new ConcurrentHashMap<>();
  final Map<String, JsonObject> runs = new ConcurrentHashMap<>();
  final Map<String, byte[]> artifacts = new ConcurrentHashMap<>();
  final Map<String, JsonObject> loggedModels = new ConcurrentHashMap<>();
  /** Run id to the model outputs logged to it ({"model_id", "step"}). */
  final Map<String, List<JsonObject>> outputs = new ConcurrentHashMap<>();
  /** The Authorization header of every request, in order (null when absent). */
  final List<String> authorizations = new CopyOnWriteArrayList<>();
  volatile String requiredAuthorization;
  /** Endpoint path to an HTTP status every request to it gets (e.g. 403), to inject refusals. */
  final Map<String, Integer> statusFor = new ConcurrentHashMap<>();
  final AtomicInteger failNext = new AtomicInteger();
  volatile boolean down;
  private final AtomicInteger experimentIds = new AtomicInteger(100);
  private final HttpServer server;

  FakeMlflowServer() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/", this::handle);
    server.start();
  }

  String uri() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(0);
  }

  List<Request> requests(String path) {
    return requests.stream().filter(r -> r.path.equals(path)).toList();
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      handleOpen(exchange);
    }
  }

  private void handleOpen(HttpExchange exchange) throws IOException {
    try {
      byte[] raw = exchange.getRequestBody().readAllBytes();
      String method = exchange.getRequestMethod();
      String path = exchange.getRequestURI().getPath();
      String query = exchange.getRequestURI().getRawQuery();
      JsonObject body = null;
      if (!path.startsWith("/api/2.0/mlflow-artifacts/") && raw.length > 0) {
        try {
          body = JsonParser.parseString(new String(raw, StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (RuntimeException e) {
          violations.add(path + ": body is not a JSON object: " + e.getMessage());
        }
      }
      requests.add(new Request(method, path, query, body, raw));
      String authorization = exchange.getRequestHeaders().getFirst("Authorization");
      authorizations.add(authorization);
      if (requiredAuthorization != null && !requiredAuthorization.equals(authorization)) {
        exchange.getResponseHeaders().add("WWW-Authenticate", "Basic realm=\"mlflow\"");
        reply(exchange, 401, "You are not authenticated. Please see "
            + "https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how "
            + "to authenticate.");
        return;
      }
      Integer forced = statusFor.get(path);
      if (forced != null) {
        String code = switch (forced) {
          case 400 -> "INVALID_PARAMETER_VALUE";
          case 401 -> "UNAUTHENTICATED";
          case 403 -> "PERMISSION_DENIED";
          case 404 -> "RESOURCE_DOES_NOT_EXIST";
          default -> "INTERNAL_ERROR";
        };
        reply(exchange, forced, "{\"error_code\": \"" + code + "\", \"message\": "
            + "\"injected " + forced + "\"}");
        return;
      }
      if (down) {
        reply(exchange, 503, "{\"error_code\": \"TEMPORARILY_UNAVAILABLE\", \"message\": \"down\"}");
        return;
      }
      if (failNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        reply(exchange, 500, "{\"error_code\": \"INTERNAL_ERROR\", \"message\": \"injected\"}");
        return;
      }
      reply(exchange, 200, answer(method, path, query, body, raw));
    } catch (NotFound e) {
      reply(exchange, 404, "{\"error_code\": \"RESOURCE_DOES_NOT_EXIST\", \"message\": \""
          + e.getMessage() + "\"}");
    } catch (RuntimeException | AssertionError e) {
      violations.add(exchange.getRequestURI() + ": " + e.getMessage());
      reply(exchange, 400, "{\"error_code\": \"INVALID_PARAMETER_VALUE\", \"message\": \"bad\"}");
    }
  }

  private static final class NotFound extends RuntimeException {
    private static final long serialVersionUID = 1L;

    NotFound(String message) {
      super(message);
    }
  }

  private String answer(String method, String path, String query, JsonObject body, byte[] raw) {
    switch (path) {
      case "/api/2.0/mlflow/experiments/get-by-name" -> {
        expect("GET", method, path);
        String name = queryParam(query, "experiment_name");
        String id = experimentsByName.get(name);
        if (id == null) {
          throw new NotFound("Could not find experiment with name '" + name + "'");
        }
        return "{\"experiment\": {\"experiment_id\": \"" + id + "\", \"name\": \"" + name
            + "\", \"artifact_location\": \"mlflow-artifacts:/" + id
            + "\", \"lifecycle_stage\": \"active\"}}";
      }
      case "/api/2.0/mlflow/experiments/create" -> {
        expect("POST", method, path);
        fields(body, Set.of("name"), Set.of("artifact_location", "tags"));
        String name = string(body, "name");
        String id = String.valueOf(experimentIds.incrementAndGet());
        experimentsByName.put(name, id);
        return "{\"experiment_id\": \"" + id + "\"}";
      }
      case "/api/2.0/mlflow/runs/create" -> {
        expect("POST", method, path);
        fields(body, Set.of("experiment_id", "start_time"), Set.of("user_id", "run_name", "tags"));
        String experiment = string(body, "experiment_id");
        assertTrue(experimentsByName.containsValue(experiment), "unknown experiment " + experiment);
        int64(body, "start_time");
        keyValues(body, "tags");
        String runId = UUID.randomUUID().toString().replace("-", "");
        JsonObject info = new JsonObject();
        info.addProperty("run_id", runId);
        info.addProperty("run_uuid", runId);
        info.addProperty("experiment_id", experiment);
        info.addProperty("run_name", body.has("run_name") ? string(body, "run_name") : "");
        info.addProperty("status", "RUNNING");
        info.addProperty("start_time", int64(body, "start_time"));
        info.addProperty("artifact_uri", "mlflow-artifacts:/" + experiment + "/" + runId
            + "/artifacts");
        info.addProperty("lifecycle_stage", "active");
        JsonObject run = new JsonObject();
        run.add("info", info);
        JsonObject data = new JsonObject();
        data.add("metrics", new JsonArray());
        data.add("params", new JsonArray());
        data.add("tags", body.has("tags") ? body.get("tags").deepCopy() : new JsonArray());
        run.add("data", data);
        runs.put(runId, run);
        return "{\"run\": " + run + "}";
      }
      case "/api/2.0/mlflow/runs/get" -> {
        expect("GET", method, path);
        JsonObject run = run(queryParam(query, "run_id"));
        return "{\"run\": " + run + "}";
      }
      case "/api/2.0/mlflow/runs/log-batch" -> {
        expect("POST", method, path);
        fields(body, Set.of("run_id"), Set.of("metrics", "params", "tags"));
        JsonObject run = run(string(body, "run_id"));
        if (body.has("metrics")) {
          for (JsonElement m : body.getAsJsonArray("metrics")) {
            JsonObject metric = m.getAsJsonObject();
            fields(metric, Set.of("key", "value", "timestamp"),
                Set.of("step", "model_id", "dataset_name", "dataset_digest"));
            string(metric, "key");
            doubleValue(metric, "value");
            int64(metric, "timestamp");
            if (metric.has("step")) {
              int64(metric, "step");
            }
            JsonObject point = metric.deepCopy();
            point.remove("model_id");
            JsonArray history = run.getAsJsonObject("data").getAsJsonArray("metrics");
            if (!history.contains(point)) { // MLflow skips a point the run already holds
              history.add(point);
            }
            if (metric.has("model_id")) {
              JsonObject model = loggedModels.get(string(metric, "model_id"));
              assertTrue(model != null, "unknown logged model in " + metric);
              JsonObject data = model.getAsJsonObject("data");
              if (!data.has("metrics")) {
                data.add("metrics", new JsonArray());
              }
              data.getAsJsonArray("metrics").add(metric);
            }
          }
        }
        for (String list : List.of("params", "tags")) {
          keyValues(body, list);
          if (body.has(list)) {
            run.getAsJsonObject("data").getAsJsonArray(list).addAll(body.getAsJsonArray(list));
          }
        }
        return "{}";
      }
      case "/api/2.0/mlflow/runs/update" -> {
        expect("POST", method, path);
        fields(body, Set.of("run_id"), Set.of("run_uuid", "status", "end_time", "run_name"));
        JsonObject info = run(string(body, "run_id")).getAsJsonObject("info");
        if (body.has("status")) {
          String status = string(body, "status");
          assertTrue(Set.of("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
              .contains(status), "status " + status);
          info.addProperty("status", status);
        }
        if (body.has("end_time")) {
          info.addProperty("end_time", int64(body, "end_time"));
        }
        return "{\"run_info\": " + info + "}";
      }
      case "/api/2.0/mlflow/logged-models" -> {
        expect("POST", method, path);
        fields(body, Set.of("experiment_id"),
            Set.of("name", "model_type", "source_run_id", "params", "tags"));
        String experiment = string(body, "experiment_id");
        assertTrue(experimentsByName.containsValue(experiment), "unknown experiment " + experiment);
        if (body.has("source_run_id")) {
          run(string(body, "source_run_id"));
        }
        keyValues(body, "params");
        keyValues(body, "tags");
        String modelId = "m-" + UUID.randomUUID().toString().replace("-", "");
        JsonObject info = new JsonObject();
        info.addProperty("model_id", modelId);
        info.addProperty("experiment_id", experiment);
        info.addProperty("name", body.has("name") ? string(body, "name") : "model");
        info.addProperty("artifact_uri", "mlflow-artifacts:/" + experiment + "/models/" + modelId
            + "/artifacts");
        info.addProperty("status", "LOGGED_MODEL_PENDING");
        if (body.has("source_run_id")) {
          info.addProperty("source_run_id", string(body, "source_run_id"));
        }
        if (body.has("model_type")) {
          info.addProperty("model_type", string(body, "model_type"));
        }
        JsonObject model = new JsonObject();
        model.add("info", info);
        JsonObject data = new JsonObject();
        data.add("params", body.has("params") ? body.get("params").deepCopy() : new JsonArray());
        model.add("data", data);
        info.add("tags", body.has("tags") ? body.get("tags").deepCopy() : new JsonArray());
        loggedModels.put(modelId, model);
        return "{\"model\": " + model + "}";
      }
      case "/api/2.0/mlflow/runs/outputs" -> {
        expect("POST", method, path);
        fields(body, Set.of("run_id", "models"), Set.of());
        String runId = string(body, "run_id");
        run(runId);
        for (JsonElement m : body.getAsJsonArray("models")) {
          JsonObject output = m.getAsJsonObject();
          fields(output, Set.of("model_id"), Set.of("step"));
          assertTrue(loggedModels.containsKey(string(output, "model_id")),
              "unknown logged model " + output);
          if (output.has("step")) {
            int64(output, "step");
          }
          outputs.computeIfAbsent(runId, k -> new CopyOnWriteArrayList<>()).add(output);
        }
        return "{}";
      }
      default -> {
        String modelPrefix = "/api/2.0/mlflow/logged-models/";
        if (path.startsWith(modelPrefix)) {
          expect("PATCH", method, path);
          String modelId = path.substring(modelPrefix.length());
          fields(body, Set.of("model_id"), Set.of("status"));
          assertEquals(modelId, string(body, "model_id"), "model_id in path and body");
          JsonObject model = loggedModels.get(modelId);
          if (model == null) {
            throw new NotFound("Logged model with ID '" + modelId + "' not found.");
          }
          String status = string(body, "status");
          assertTrue(Set.of("LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED").contains(status),
              "finalize status " + status);
          model.getAsJsonObject("info").addProperty("status", status);
          return "{\"model\": " + model + "}";
        }
        String prefix = "/api/2.0/mlflow-artifacts/artifacts/";
        if (path.startsWith(prefix)) {
          expect("PUT", method, path);
          String artifactPath = path.substring(prefix.length());
          String[] parts = artifactPath.split("/");
          assertTrue(parts.length >= 4, "artifact path too short: " + artifactPath);
          if (parts[1].equals("models")) {
            assertTrue(parts.length >= 5 && parts[3].equals("artifacts")
                && loggedModels.containsKey(parts[2]),
                "model artifact path <experiment>/models/<model id>/artifacts/<file>: "
                    + artifactPath);
          } else {
            assertTrue(parts[2].equals("artifacts"),
                "artifact path <experiment>/<run>/artifacts/<file>: " + artifactPath);
            run(parts[1]);
          }
          artifacts.put(artifactPath, raw);
          return "{}";
        }
        throw new AssertionError("unexpected endpoint " + method + " " + path);
      }
    }
  }

  private JsonObject run(String runId) {
    JsonObject run = runs.get(runId);
    if (run == null) {
      throw new NotFound("Run '" + runId + "' not found");
    }
    return run;
  }

  private static void expect(String method, String actual, String path) {
    assertEquals(method, actual, "HTTP method of " + path);
  }

  private static void fields(JsonObject body, Set<String> required, Set<String> optional) {
    assertNotNull(body, "a JSON body");
    for (String field : required) {
      assertTrue(body.has(field), "required field " + field + " missing in " + body);
    }
    for (String field : body.keySet()) {
      if (!required.contains(field) && !optional.contains(field)) {
        fail("field " + field + " is not in MLflow's REST API for this endpoint: " + body);
      }
    }
  }

  private static String string(JsonObject body, String field) {
    JsonElement value = body.get(field);
    assertTrue(value != null && value.isJsonPrimitive() && value.getAsJsonPrimitive().isString(),
        field + " must be a string in " + body);
    return value.getAsString();
  }

  /** proto3 JSON writes int64 as a string or a number; both are accepted by MLflow. */
  private static long int64(JsonObject body, String field) {
    JsonElement value = body.get(field);
    assertTrue(value != null && value.isJsonPrimitive(), field + " must be an int64 in " + body);
    return Long.parseLong(value.getAsString());
  }

  /** proto3 JSON writes a double as a number, or "NaN", "Infinity", "-Infinity". */
  private static double doubleValue(JsonObject body, String field) {
    JsonElement value = body.get(field);
    assertTrue(value != null && value.isJsonPrimitive(), field + " must be a double in " + body);
    return Double.parseDouble(value.getAsString());
  }

  private static void keyValues(JsonObject body, String field) {
    if (!body.has(field)) {
      return;
    }
    for (JsonElement element : body.getAsJsonArray(field)) {
      JsonObject kv = element.getAsJsonObject();
      fields(kv, Set.of("key", "value"), Set.of());
      string(kv, "key");
      string(kv, "value");
    }
  }

  private static String queryParam(String query, String name) {
    if (query != null) {
      for (String pair : query.split("&")) {
        int eq = pair.indexOf('=');
        if (eq > 0 && pair.substring(0, eq).equals(name)) {
          return URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
        }
      }
    }
    throw new AssertionError("query parameter " + name + " missing in " + query);
  }

  private static void reply(HttpExchange exchange, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().add("Content-Type", "application/json");
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }
}
