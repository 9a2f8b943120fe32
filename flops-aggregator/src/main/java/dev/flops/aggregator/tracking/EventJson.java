package dev.flops.aggregator.tracking;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.flops.api.LearnerFailure;
import dev.flops.api.RoundResources;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrackingInfo;
import dev.flops.api.TrainingResult;
import dev.flops.api.TrainingStarted;
import java.time.Clock;

/**
 * The JSON objects of the lifecycle events, schema {@value EventLog#SCHEMA} (docs/tracking.md),
 * shared by the {@link EventLog} file and the {@link NotifyObserver} HTTP posts so that a reader
 * of one can read the other. Stateless apart from its federation name and clock; thread-safe.
 */
final class EventJson {
  private final String federation;
  private final Clock clock;

  EventJson(String federation, Clock clock) {
    this.federation = federation;
    this.clock = clock;
  }

  JsonObject started(TrainingStarted event) {
    JsonObject line = line("training_started");
    line.addProperty("started_at", event.startedAt().toString());
    line.addProperty("rounds", event.rounds());
    line.addProperty("strategy", event.strategy());
    return line;
  }

  JsonObject roundFinished(RoundSummary summary) {
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
    return line;
  }

  JsonObject succeeded(TrainingResult result) {
    JsonObject line = line("training_succeeded");
    line.addProperty("rounds", result.rounds().size());
    line.addProperty("duration_s", result.duration().toNanos() / 1e9);
    line.add("final", roundRef(result.finalRound()));
    line.add("best", result.best().map(EventJson::roundRef).orElse(null));
    line.add("tracking", result.trackingInfo().map(EventJson::tracking).orElse(null));
    return line;
  }

  JsonObject failed(Throwable cause) {
    JsonObject line = line("training_failed");
    line.addProperty("error", cause.getClass().getName());
    line.addProperty("message", String.valueOf(cause.getMessage()));
    return line;
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
    line.addProperty("schema", EventLog.SCHEMA);
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
}
