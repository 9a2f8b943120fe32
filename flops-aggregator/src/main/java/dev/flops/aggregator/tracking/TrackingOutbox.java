package dev.flops.aggregator.tracking;

import dev.flops.aggregator.internal.tracking.OutboxDelivery;
import dev.flops.proto.codec.Durations;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Delivers the tracking calls that earlier trainings could not deliver (their tracking server was
 * down until after training ended) and that wait in an outbox directory ({@link
 * Tracking#outbox(java.nio.file.Path)}): runs' final statuses, metrics, the best model. An
 * aggregator that tracks to the same URI delivers them by itself when its training starts; this
 * class (and {@code AggregatorMain flush-tracking}) does it at once, without a training.
 *
 * <pre>{@code
 * TrackingOutbox.Result result = TrackingOutbox.flush(
 *     Tracking.uri("http://mlflow:5000").outbox(Path.of("flops-tracking-outbox")),
 *     Duration.ofSeconds(60));
 * }</pre>
 *
 * <p>Credentials come from {@code MLFLOW_TRACKING_USERNAME}/{@code MLFLOW_TRACKING_PASSWORD},
 * {@code MLFLOW_TRACKING_TOKEN} or the URI, as for training; the outbox itself never holds any.
 * Calls are delivered in the order they were made; a file is deleted once all its calls are
 * delivered, and what still cannot be delivered is written back. Not thread-safe with another
 * process flushing or training against the same outbox directory at the same time.
 */
public final class TrackingOutbox {
  private TrackingOutbox() {}

  /**
   * What a flush did.
   *
   * @param trackingUri the tracking URI, without credentials
   * @param delivered calls delivered
   * @param pending calls still waiting in the outbox (the server is still unreachable)
   * @param refused descriptions of the calls the server refused (4xx) and that were dropped
   */
  public record Result(String trackingUri, int delivered, int pending, List<String> refused) {
    /**
     * Copies the list.
     *
     * @throws NullPointerException if the URI or the list is null
     */
    public Result {
      Objects.requireNonNull(trackingUri, "trackingUri");
      refused = List.copyOf(refused);
    }
  }

  /**
   * Delivers the calls waiting in {@code tracking.outbox()} for {@code tracking}'s URI.
   *
   * @param tracking the backend the calls were meant for, with its outbox directory
   * @param timeout how long to keep retrying while the server fails (zero: one attempt each)
   * @return how many calls were delivered and how many still wait
   * @throws IllegalArgumentException if tracking is off, or its credentials are incomplete
   * @throws InterruptedException if interrupted while waiting for the server
   */
  public static Result flush(Tracking tracking, Duration timeout) throws InterruptedException {
    Objects.requireNonNull(tracking, "tracking");
    Objects.requireNonNull(timeout, "timeout");
    if (!tracking.enabled()) {
      throw new IllegalArgumentException("tracking is off: give the tracking URI the calls in the "
          + "outbox were meant for (--tracking-uri, or MLFLOW_TRACKING_URI)");
    }
    if (timeout.isNegative()) {
      throw new IllegalArgumentException("timeout must not be negative but was "
          + Durations.forPeople(timeout));
    }
    OutboxDelivery.Outcome outcome = OutboxDelivery.deliver(tracking, timeout);
    return new Result(outcome.trackingUri(), outcome.delivered(), outcome.pending(),
        outcome.refused());
  }
}
