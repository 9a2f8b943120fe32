package dev.flops.aggregator;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.aggregator.tracking.TrackingOutbox;
import dev.flops.proto.codec.FlopsVersion;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code AggregatorMain flush-tracking}: delivers the tracking calls that waited in an outbox
 * because the tracking server was down until after training ended (see {@link TrackingOutbox}).
 * Exit status 0 when nothing is left waiting, 1 when calls still wait (the server is still
 * unreachable), 2 for bad options.
 */
@Command(name = "flush-tracking", mixinStandardHelpOptions = true,
    versionProvider = FlopsVersion.class,
    description = "Delivers the MLflow tracking calls waiting in an outbox directory (left there "
        + "when the tracking server was unreachable until training ended). Credentials come from "
        + "MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD, MLFLOW_TRACKING_TOKEN or the URI.")
final class FlushTrackingCommand implements Callable<Integer> {
  private final Map<String, String> environment;

  @Spec
  CommandSpec spec;

  @Option(names = "--tracking-uri", paramLabel = "URI",
      description = "The tracking server (or file store) the calls were meant for (default: "
          + "$MLFLOW_TRACKING_URI).")
  String trackingUri;

  @Option(names = "--outbox", paramLabel = "DIR", defaultValue = Tracking.DEFAULT_OUTBOX,
      description = "The outbox directory (default: ${DEFAULT-VALUE}).")
  Path outbox;

  @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "60",
      description = "How long to keep retrying while the server fails (default: "
          + "${DEFAULT-VALUE}).")
  long timeoutSeconds;

  FlushTrackingCommand(Map<String, String> environment) {
    this.environment = environment;
  }

  static int run(String[] args, Map<String, String> environment) {
    return AggregatorMain.commandLine(new FlushTrackingCommand(environment)).execute(args);
  }

  @Override
  public Integer call() throws InterruptedException {
    if (timeoutSeconds < 0) {
      throw new IllegalArgumentException("--timeout must be 0 or more seconds but was "
          + timeoutSeconds);
    }
    String uri = trackingUri != null ? trackingUri : environment.get(Tracking.TRACKING_URI_ENV);
    if (uri == null || uri.isBlank()) {
      throw new IllegalArgumentException("no tracking URI: give --tracking-uri URI (the server the "
          + "calls were meant for) or set " + Tracking.TRACKING_URI_ENV);
    }
    Tracking tracking = Tracking.uri(uri).outbox(outbox);
    PrintWriter out = spec.commandLine().getOut();
    if (!Files.isDirectory(tracking.outbox())) {
      // "delivered 0" would read as if calls had been looked for there and had failed.
      out.printf("no outbox at %s: nothing to deliver%n", tracking.outbox());
      return 0;
    }
    TrackingOutbox.Result result = TrackingOutbox.flush(tracking,
        Duration.ofSeconds(timeoutSeconds));
    out.printf("delivered %d tracking call(s) from %s to %s; %d still wait%s%n",
        result.delivered(), tracking.outbox(), result.trackingUri(), result.pending(),
        result.refused().isEmpty() ? "" : "; refused and dropped: "
            + String.join("; ", result.refused()));
    return result.pending() == 0 ? 0 : 1;
  }
}
