package dev.flops.aggregator;

import dev.flops.aggregator.tracking.EventLog;
import dev.flops.aggregator.tracking.Tracking;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Option;

/**
 * The MLflow tracking and event-log options of an aggregator main, as a picocli mixin:
 * {@code @Mixin TrackingOptions tracking = new TrackingOptions("my-experiment");} then
 * {@code tracking.applyTo(builder)}. {@link AggregatorMain} and the bundled examples use it, so
 * every aggregator main takes the same {@code --tracking-uri}, {@code --experiment},
 * {@code --no-tracking}, {@code --tracking-outbox}, {@code --tracking-flush-timeout} and
 * {@code --event-log}.
 */
public final class TrackingOptions {

  @Option(names = "--tracking-uri", paramLabel = "URI",
      description = "Where to track the training in MLflow: a directory or file:///path (MLflow's "
          + "file store) or http://host:port (a tracking server). Default: $MLFLOW_TRACKING_URI "
          + "if set, else ./mlruns.")
  String trackingUri;

  @Option(names = "--experiment", paramLabel = "NAME",
      description = "MLflow experiment name (default: ${DEFAULT-VALUE}).")
  String experiment;

  @Option(names = "--no-tracking", description = "Do not track the training in MLflow.")
  boolean noTracking;

  @Option(names = "--tracking-outbox", paramLabel = "DIR",
      description = "Where tracking calls wait when the tracking server is unreachable until "
          + "training ends (default: ./" + Tracking.DEFAULT_OUTBOX + ").")
  Path outbox;

  @Option(names = "--tracking-flush-timeout", paramLabel = "SECONDS",
      description = "How long the end of training waits for an unreachable tracking server "
          + "before keeping the calls in the outbox (default: 30).")
  Long flushTimeoutSeconds;

  @Option(names = "--event-log", paramLabel = "FILE",
      description = "Append the lifecycle events as JSON lines (schema flops.events/1) to FILE.")
  Path eventLog;

  /**
   * Creates the options.
   *
   * @param defaultExperiment the experiment tracked into without {@code --experiment}; null for
   *     the aggregator's own default ({@code flops-<model class>})
   */
  public TrackingOptions(String defaultExperiment) {
    this.experiment = defaultExperiment;
  }

  /**
   * Resolves the options.
   *
   * @return the tracking these options select
   * @throws IllegalArgumentException naming a bad URI, directory or timeout
   */
  public Tracking tracking() {
    if (noTracking) {
      return Tracking.off();
    }
    Tracking tracking = trackingUri == null ? Tracking.defaults() : Tracking.uri(trackingUri);
    if (outbox != null) {
      tracking = tracking.outbox(outbox);
    }
    if (flushTimeoutSeconds != null) {
      tracking = tracking.flushTimeout(Duration.ofSeconds(flushTimeoutSeconds));
    }
    return experiment == null ? tracking : tracking.experimentName(experiment);
  }

  /**
   * Sets tracking and, with {@code --event-log}, the event log on a training plan's builder; the
   * event log's file is opened (for appending) here.
   *
   * @param builder the builder
   * @return the builder
   * @throws IllegalArgumentException as {@link #tracking()} does, or naming an event log that
   *     cannot be opened
   */
  public TrainingPlan.Builder applyTo(TrainingPlan.Builder builder) {
    builder.tracking(tracking());
    if (eventLog != null) {
      builder.observer(EventLog.toFile(eventLog, experiment == null ? "flops" : experiment));
    }
    return builder;
  }
}
