package dev.flops.examples.fashion;

import dev.flops.aggregator.Aggregator;
import dev.flops.aggregator.tracking.EventLog;
import dev.flops.aggregator.tracking.Tracking;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The MLflow tracking and event-log options of the aggregator mains (a picocli mixin).
 */
public final class TrackingOptions {

  /** The experiment the Fashion-MNIST examples track into unless told otherwise. */
  static final String DEFAULT_EXPERIMENT = "fashion-mnist";

  @Option(names = "--tracking-uri", paramLabel = "URI",
      description = "Where to track the training in MLflow: a directory or file:///path (MLflow's "
          + "file store) or http://host:port (a tracking server). Default: $MLFLOW_TRACKING_URI "
          + "if set, else ./mlruns.")
  String trackingUri;

  @Option(names = "--experiment", defaultValue = DEFAULT_EXPERIMENT,
      description = "MLflow experiment name (default: ${DEFAULT-VALUE}).")
  String experiment = DEFAULT_EXPERIMENT;

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

  /** The tracking these options select; bad URIs fail here with a message naming them. */
  Tracking tracking() {
    if (noTracking) {
      return Tracking.off();
    }
    Tracking tracking = trackingUri == null ? Tracking.defaults() : Tracking.uri(trackingUri);
    if (outbox != null) {
      tracking = tracking.outbox(outbox);
    }
    if (flushTimeoutSeconds != null) {
      tracking = tracking.flushTimeout(java.time.Duration.ofSeconds(flushTimeoutSeconds));
    }
    return tracking.experimentName(experiment);
  }

  /** Configures tracking and the event log on an aggregator builder. */
  Aggregator.Builder apply(Aggregator.Builder builder) {
    builder.tracking(tracking());
    if (eventLog != null) {
      builder.observer(EventLog.toFile(eventLog, experiment));
    }
    return builder;
  }
}
