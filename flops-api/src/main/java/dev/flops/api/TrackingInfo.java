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
 */
public record TrackingInfo(
    String trackingUri,
    String experimentId,
    String parentRunId,
    String bestRoundRunId,
    List<String> unsent) {

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
