package dev.flops.api;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Where a training was tracked (MLflow): the experiment, the parent run, the run of the best round,
 * and what could not be sent.
 *
 * <p>Ids are MLflow's own: an experiment id and 32-character run ids. An id is null when tracking
 * never obtained it, e.g. when the tracking server was unreachable for the whole training.
 *
 * @param trackingUri the tracking URI: {@code file:///.../mlruns} for the embedded file store, or
 *     {@code http(s)://host:port} for a tracking server
 * @param experimentId the experiment's id, or null if unknown
 * @param parentRunId the id of the run of the whole training, or null if unknown
 * @param bestRoundRunId the id of the best round's run (the one holding the model), or null if
 *     unknown or no round was evaluated
 * @param unsent a description of every tracking call that could not be completed, in order;
 *     empty when everything reached the store
 * @param outbox the directory where calls not yet delivered wait to be delivered later (by the
 *     next aggregator tracking to the same URI, or {@code AggregatorMain flush-tracking}), or
 *     null when none wait
 */
public record TrackingInfo(
    String trackingUri,
    String experimentId,
    String parentRunId,
    String bestRoundRunId,
    List<String> unsent,
    String outbox) {

  /**
   * Validates the arguments.
   *
   * @throws NullPointerException if the URI or the unsent list is null
   */
  public TrackingInfo {
    Objects.requireNonNull(trackingUri, "trackingUri");
    unsent = List.copyOf(unsent);
  }

  /**
   * Describes a tracking with nothing waiting in an outbox.
   *
   * @param trackingUri the tracking URI, without credentials
   * @param experimentId the experiment's id, or null if unknown
   * @param parentRunId the parent run's id, or null if unknown
   * @param bestRoundRunId the best round's run id, or null if unknown
   * @param unsent the calls that could not be completed, in order
   * @throws NullPointerException if the URI or the unsent list is null
   */
  public TrackingInfo(String trackingUri, String experimentId, String parentRunId,
      String bestRoundRunId, List<String> unsent) {
    this(trackingUri, experimentId, parentRunId, bestRoundRunId, unsent, null);
  }

  /**
   * Tells whether the backend received anything: the parent run exists there.
   *
   * @return true once the parent run was created (or resumed)
   */
  public boolean tracked() {
    return parentRunId != null;
  }

  /**
   * Returns where the calls not yet delivered wait.
   *
   * @return the outbox directory, or empty when nothing waits
   */
  public Optional<String> pendingOutbox() {
    return Optional.ofNullable(outbox);
  }

  /**
   * Returns the id of the best round's run.
   *
   * @return the run id, or empty if unknown
   */
  public Optional<String> bestRoundRun() {
    return Optional.ofNullable(bestRoundRunId);
  }

  /**
   * Tells whether every tracking call reached the store.
   *
   * @return true if nothing is left unsent
   */
  public boolean complete() {
    return unsent.isEmpty();
  }
}
