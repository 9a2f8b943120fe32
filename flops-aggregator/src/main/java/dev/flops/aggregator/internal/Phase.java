package dev.flops.aggregator.internal;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The tasks of one phase (fit or evaluate) of one attempt of a round, as the round loop sees them.
 * Made by {@link LearnerPool#dispatch}.
 */
public interface Phase {

  /**
   * Returns one outcome per assignment, in the order of the assignments; each completes when its
   * task succeeds, fails or is expired, and never exceptionally.
   *
   * @return the outcomes
   */
  List<CompletableFuture<TaskOutcome>> outcomes();

  /**
   * Fails the tasks still open with {@code reason} ({@code TIMED_OUT}); after this returns no
   * update of this phase reaches the sink.
   *
   * @param reason e.g. "timed out after 10 min"
   */
  void expire(String reason);

  /**
   * Describes how far the phase got, for the progress line of a phase that runs long.
   *
   * @param elapsed the time since the phase started
   * @return e.g. "round 2 fit: 3 of 5 updates in, 1 upload under way, 1 learner still training; 40 s"
   */
  String describeProgress(Duration elapsed);

  /** Forgets the phase's tasks: late traffic about them is refused as such. */
  void close();
}
