package dev.flops.learner;

import java.util.Objects;

/**
 * The aggregator ended the federation without finishing its training: it failed (e.g. a round
 * gathered too few results) or the aggregator was stopped first. Thrown by {@link Learner#run()}
 * once the aggregator has said so; {@link LearnerMain} then exits with {@link #exitCode()}, so that
 * a supervisor that restarts failed processes (Kubernetes {@code restartPolicy: OnFailure},
 * systemd {@code Restart=on-failure}) starts the learner again, and the restarted learner waits
 * (up to its {@code connectTimeout}) for the aggregator to be resumed from its checkpoint.
 */
public final class FederationFailedException extends LearnerException {
  private static final long serialVersionUID = 1L;

  /** How the aggregator's federation ended, when not with success. */
  public enum Outcome {
    /** The aggregator's training failed; resuming it continues after the last completed round. */
    FAILED(3),
    /** The aggregator was closed or interrupted before its training ended. */
    STOPPED(4);

    private final int exitCode;

    Outcome(int exitCode) {
      this.exitCode = exitCode;
    }
  }

  private final Outcome outcome;
  private final String aggregatorReason;

  /**
   * Creates the exception.
   *
   * @param outcome how the federation ended
   * @param aggregatorReason what the aggregator said, e.g. "round 2: the fit phase gathered ..."
   * @param learner the learner's name, for the message
   * @throws NullPointerException if an argument is null
   */
  public FederationFailedException(Outcome outcome, String aggregatorReason, String learner) {
    super(message(outcome, aggregatorReason, learner), null);
    this.outcome = outcome;
    this.aggregatorReason = aggregatorReason;
  }

  private static String message(Outcome outcome, String reason, String learner) {
    Objects.requireNonNull(outcome, "outcome");
    Objects.requireNonNull(reason, "aggregatorReason");
    // A learner keeps its default name "learner": call it that once, not "learner learner".
    String who = learner.equals("learner") ? learner : "learner " + learner;
    return switch (outcome) {
      // The reason may end in a sentence of its own (the aggregator's advice).
      case FAILED -> who + ": the aggregator's training failed: " + reason
          + (reason.endsWith(".") ? " This" : "; this") + " learner exits with a failure so "
          + "that a supervisor can restart it for the aggregator's next run";
      case STOPPED -> who + ": the aggregator stopped before its training "
          + "ended: " + reason;
    };
  }

  /**
   * Returns how the federation ended.
   *
   * @return {@link Outcome#FAILED} or {@link Outcome#STOPPED}
   */
  public Outcome outcome() {
    return outcome;
  }

  /**
   * Returns what the aggregator said about the end.
   *
   * @return the aggregator's reason, e.g. the failed round and its failures
   */
  public String aggregatorReason() {
    return aggregatorReason;
  }

  /**
   * Returns the exit code {@link LearnerMain} ends with: 3 after a failed training, 4 when the
   * aggregator stopped before its training ended.
   *
   * @return 3 or 4
   */
  public int exitCode() {
    return outcome.exitCode;
  }
}
