package dev.flops.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** What a learner says when its aggregator's training did not succeed. */
class FederationFailedExceptionTest {

  @Test
  void failed_namesTheLearnerOnce_andSaysItExitsForARestart() {
    var failure = new FederationFailedException(FederationFailedException.Outcome.FAILED,
        "round 2: the fit phase gathered 0 of the 1 results it needs", "site-a");
    assertEquals("learner site-a: the aggregator's training failed: round 2: the fit phase "
        + "gathered 0 of the 1 results it needs; this learner exits with a failure so that a "
        + "supervisor can restart it for the aggregator's next run", failure.getMessage());
    assertEquals(3, failure.exitCode());
  }

  @Test
  void defaultName_isCalledLearnerOnce() {
    var stopped = new FederationFailedException(FederationFailedException.Outcome.STOPPED,
        "it was stopped by a signal after round 1 of 3", "learner");
    assertTrue(stopped.getMessage().startsWith("learner: the aggregator stopped before its "
        + "training ended: it was stopped by a signal"), stopped.getMessage());
    assertEquals(4, stopped.exitCode());
  }
}
