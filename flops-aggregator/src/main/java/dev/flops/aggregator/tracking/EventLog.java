package dev.flops.aggregator.tracking;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.flops.api.FederationObserver;
import dev.flops.api.LearnerFailure;
import dev.flops.api.RoundResources;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrackingInfo;
import dev.flops.api.TrainingResult;
import dev.flops.api.TrainingStarted;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.Objects;

/**
 * An observer that appends the federation's lifecycle events to a file as JSON lines, one object
 * per line, flushed as each event happens, so that another program can follow a federation (the
 * way a manager follows MQTT topics) with {@code tail -F}.
 *
 * <p>The schema is stable; version 1 is described in {@code docs/tracking.md}. Every line has
 * {@code "schema": "flops.events/1"}, {@code "event"} (one of {@code training_started}, {@code
 * round_finished}, {@code training_succeeded}, {@code training_failed}), {@code "time"} (ISO-8601
 * UTC) and {@code "federation"}. Numbers that are not finite (NaN: no evaluation) are written as
 * {@code null}. New fields may be added in version 1; none is removed or changes meaning.
 *
 * <pre>{@code
 * Aggregator.builder()
 *     .observer(EventLog.toFile(Path.of("events.jsonl"), "fashion-mnist"))
 * }</pre>
 */
public final class EventLog implements FederationObserver, AutoCloseable {

  /** The value of every line's {@code schema} field. */
  public static final String SCHEMA = "flops.events/1";

  private final Path file;
  private final String federation;
  private final BufferedWriter out;
  private final Clock clock;
  private final Gson gson = new GsonBuilder().disableHtmlEscaping().serializeNulls().create();

  private EventLog(Path file, String federation, Clock clock) throws IOException {
    this.file = file;
    this.federation = federation;
    this.clock = clock;
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    this.out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
        StandardOpenOption.APPEND, StandardOpenOption.WRITE);
  }

  /**
   * Opens (creating, else appending to) an event log.
   *
   * @param file the JSON-lines file
   * @param federation the name written in every event's {@code federation} field
   * @return the observer, to add with {@code Aggregator.Builder.observer}
   * @throws IllegalArgumentException if the file cannot be opened for appending; the message
   *     names it
   */
  public static EventLog toFile(Path file, String federation) {
    return toFile(file, federation, Clock.systemUTC());
  }

  static EventLog toFile(Path file, String federation, Clock clock) {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(federation, "federation");
    try {
      return new EventLog(file, federation, clock);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot open the event log " + file.toAbsolutePath()
          + " for appending: " + e + "; choose a writable file", e);
    }
  }

  /**
   * Returns the file events are appended to.
   *
   * @return the file
   */
  public Path file() {
    return file;
  }

  @Override
  public void onTrainingStarted(TrainingStarted event) {
    JsonObject line = line("training_started");
    line.addProperty("started_at", event.startedAt().toString());
    line.addProperty("rounds", event.rounds());
    line.addProperty("strategy", event.strategy());
    write(line);
  }

  @Override
  public void onRoundFinished(RoundSummary summary) {
    JsonObject line = line("round_finished");
    line.addProperty("round", summary.round());
    line.addProperty("fit_succeeded", summary.fitSucceeded());
    line.addProperty("fit_failed", summary.fitFailed());
    line.addProperty("evaluate_succeeded", summary.evaluateSucceeded());
    line.addProperty("evaluate_failed", summary.evaluateFailed());
    number(line, "loss", summary.loss());
    number(line, "accuracy", summary.accuracy());
    line.addProperty("evaluate_examples",
        summary.federatedEvaluation().map(e -> e.numExamples()).orElse(0L));
    JsonObject metrics = new JsonObject();
    summary.federatedEvaluation().ifPresent(e -> e.metrics().forEach((k, v) -> number(metrics, k, v)));
    line.add("metrics", metrics);
    line.addProperty("fit_examples", summary.fitExamples());
    JsonObject fitMetrics = new JsonObject();
    summary.fitMetrics().forEach((k, v) -> number(fitMetrics, k, v));
    line.add("fit_metrics", fitMetrics);
    summary.central().ifPresent(central -> {
      JsonObject c = new JsonObject();
      number(c, "loss", central.loss());
      c.addProperty("examples", central.numExamples());
      JsonObject centralMetrics = new JsonObject();
      central.metrics().forEach((k, v) -> number(centralMetrics, k, v));
      c.add("metrics", centralMetrics);
      line.add("central", c);
    });
    line.addProperty("duration_s", summary.duration().toNanos() / 1e9);
    line.addProperty("learner_wait_s", summary.learnerWait().toNanos() / 1e9);
    RoundResources r = summary.resources();
    line.addProperty("bytes_received", r.bytesReceived());
    line.addProperty("bytes_sent", r.bytesSent());
    number(line, "process_cpu_s", r.processCpuSeconds() < 0 ? Double.NaN : r.processCpuSeconds());
    count(line, "heap_used_bytes", r.heapUsedBytes());
    count(line, "nonheap_used_bytes", r.nonHeapUsedBytes());
    count(line, "offheap_bytes", r.offHeapBytes());
    JsonArray failures = new JsonArray();
    for (LearnerFailure failure : summary.failures()) {
      JsonObject f = new JsonObject();
      f.addProperty("learner", failure.learnerId());
      f.addProperty("reason", failure.reason());
      failures.add(f);
    }
    line.add("failures", failures);
    write(line);
  }

  @Override
  public void onTrainingSucceeded(TrainingResult result) {
    JsonObject line = line("training_succeeded");
    line.addProperty("rounds", result.rounds().size());
    line.addProperty("duration_s", result.duration().toNanos() / 1e9);
    line.add("final", roundRef(result.finalRound()));
    line.add("best", result.best().map(EventLog::roundRef).orElse(null));
    line.add("tracking", result.trackingInfo().map(EventLog::tracking).orElse(null));
    write(line);
  }

  @Override
  public void onTrainingFailed(Throwable cause) {
    JsonObject line = line("training_failed");
    line.addProperty("error", cause.getClass().getName());
    line.addProperty("message", String.valueOf(cause.getMessage()));
    write(line);
  }

  private static JsonObject roundRef(RoundSummary round) {
    JsonObject ref = new JsonObject();
    ref.addProperty("round", round.round());
    number(ref, "loss", round.loss());
    number(ref, "accuracy", round.accuracy());
    return ref;
  }

  private static JsonObject tracking(TrackingInfo info) {
    JsonObject tracking = new JsonObject();
    tracking.addProperty("uri", info.trackingUri());
    tracking.addProperty("experiment_id", info.experimentId());
    tracking.addProperty("parent_run_id", info.parentRunId());
    tracking.addProperty("best_round_run_id", info.bestRoundRunId());
    JsonArray unsent = new JsonArray();
    info.unsent().forEach(unsent::add);
    tracking.add("unsent", unsent);
    tracking.addProperty("outbox", info.outbox());
    return tracking;
  }

  private JsonObject line(String event) {
    JsonObject line = new JsonObject();
    line.addProperty("schema", SCHEMA);
    line.addProperty("event", event);
    line.addProperty("time", clock.instant().toString());
    line.addProperty("federation", federation);
    return line;
  }

  private static void number(JsonObject object, String key, double value) {
    if (Double.isFinite(value)) {
      object.addProperty(key, value);
    } else {
      object.add(key, null);
    }
  }

  private static void count(JsonObject object, String key, long value) {
    if (value >= 0) {
      object.addProperty(key, value);
    } else {
      object.add(key, null);
    }
  }

  private synchronized void write(JsonObject line) {
    try {
      out.write(gson.toJson(line));
      out.newLine();
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot append to the event log " + file, e);
    }
  }

  /** Closes the file; later events are not written. */
  @Override
  public synchronized void close() {
    try {
      out.close();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot close the event log " + file, e);
    }
  }
}
