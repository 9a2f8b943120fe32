package dev.flops.api;

import java.util.Objects;

/**
 * A task that a learner did not complete: it failed, its update was rejected, it disconnected or it
 * ran past the round timeout.
 *
 * @param learnerId the id the aggregator gave the learner
 * @param reason what went wrong, for logs and observers
 * @param kind why the task failed, as a code: what a retry can be expected to change and which
 *     setting or party to fix
 */
public record LearnerFailure(String learnerId, String reason, Kind kind) {

  /** Why a task failed. The round policy retries and advises by this, never by the reason text. */
  public enum Kind {
    /**
     * The aggregator refused what the learner sent (an update unlike the global model,
     * non-finite values, a bad example count or metric, an update above the limits). Deterministic:
     * the same learner sends the same refusal again; fix its model or data.
     */
    REJECTED,
    /** The learner reported that its own fit or evaluate failed (its code threw). */
    LEARNER_ERROR,
    /** The task ran past the strategy's {@code roundTimeout}. */
    TIMED_OUT,
    /**
     * The learner's connection or a transfer broke, or the learner was gone when the task was
     * sent, or it reconnected (which voids the task of its previous connection).
     */
    DISCONNECTED,
    /** Not classified, e.g. a failure read from an older checkpoint or made up by a strategy. */
    OTHER
  }

  /**
   * Validates the arguments.
   *
   * @throws NullPointerException if an argument is null
   */
  public LearnerFailure {
    Objects.requireNonNull(learnerId, "learnerId");
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(kind, "kind");
  }

  /**
   * Creates a failure of kind {@link Kind#OTHER}.
   *
   * @param learnerId the id the aggregator gave the learner
   * @param reason what went wrong, for logs and observers
   * @throws NullPointerException if an argument is null
   */
  public LearnerFailure(String learnerId, String reason) {
    this(learnerId, reason, Kind.OTHER);
  }

  /**
   * Returns the same failure with another reason, e.g. prefixed with the attempt it belongs to.
   *
   * @param newReason the reason to carry instead
   * @return a failure of the same learner and kind
   * @throws NullPointerException if {@code newReason} is null
   */
  public LearnerFailure withReason(String newReason) {
    return new LearnerFailure(learnerId, newReason, kind);
  }
}
