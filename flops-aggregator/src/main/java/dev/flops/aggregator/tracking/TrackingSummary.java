package dev.flops.aggregator.tracking;

import dev.flops.api.TrackingInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The lines a main prints on standard output, after its results, about where a training was
 * tracked: the MLflow run ids, how to view a file store, what waits in an outbox and how to
 * deliver it, and what was refused. The mains that print results (the generic aggregator with
 * {@code --app}, the Fashion examples) share it so that they say the same. Stateless.
 */
public final class TrackingSummary {
  private TrackingSummary() {}

  /**
   * Returns the summary lines.
   *
   * @param info where the training was tracked
   * @param flushCommand the command that delivers an outbox in the caller's terms, e.g.
   *     {@code bin/run-example flush-tracking}; it is followed by {@code --outbox} and
   *     {@code --tracking-uri}
   * @return one to four lines, without line terminators
   * @throws NullPointerException if an argument is null
   */
  public static List<String> lines(TrackingInfo info, String flushCommand) {
    Objects.requireNonNull(info, "info");
    Objects.requireNonNull(flushCommand, "flushCommand");
    List<String> lines = new ArrayList<>();
    // "tracked" only when the backend has the runs; else what waits and how to deliver it.
    if (info.tracked()) {
      lines.add(String.format("tracked in MLflow at %s: experiment %s, parent run %s, best "
          + "round's run %s", info.trackingUri(), info.experimentId(), info.parentRunId(),
          info.bestRoundRunId()));
    } else {
      lines.add(String.format("not tracked yet: nothing reached MLflow at %s",
          info.trackingUri()));
    }
    if (info.tracked() && info.trackingUri().startsWith("file:")) {
      lines.add(String.format("view it: MLFLOW_ALLOW_FILE_STORE=true mlflow ui "
          + "--backend-store-uri %s", info.trackingUri()));
    }
    info.pendingOutbox().ifPresent(outbox -> lines.add(String.format("%d tracking call(s) wait "
            + "in %s; the next aggregator tracking to %s delivers them, or now: %s --outbox %s "
            + "--tracking-uri %s", info.unsent().stream()
            .filter(u -> u.contains("kept in the outbox")).count(), outbox,
        info.trackingUri(), flushCommand, outbox, info.trackingUri())));
    long refused = info.unsent().stream().filter(u -> !u.contains("kept in the outbox")).count();
    if (refused > 0) {
      lines.add(String.format("%d tracking call(s) were refused and dropped: %s", refused,
          String.join("; ", info.unsent())));
    }
    return lines;
  }
}
