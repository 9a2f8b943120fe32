package dev.flops.aggregator.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.flops.api.LearnerFailure;
import dev.flops.api.LearnerFailure.Kind;
import dev.flops.aggregator.TrainingPlan;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The advice for a phase that fell short follows the kinds of its failures, not their text. */
class ShortfallAdviceTest {
  private static final TrainingPlan PLAN =
      TrainingPlan.builder().roundTimeout(Duration.ofSeconds(30)).build();

  @Test
  void allRejected_fixTheModelOrData_only() {
    assertEquals("Fix the learners' model or data: every failed result was refused as invalid (a "
            + "model that does not fit the global parameters, or numbers flops refuses; the lines "
            + "above say which)",
        ShortfallAdvice.advise("fit", List.of(
            new LearnerFailure("learner-1", "update rejected: x", Kind.REJECTED),
            new LearnerFailure("learner-2", "update rejected: y", Kind.REJECTED)), PLAN));
  }

  @Test
  void timeoutsAndDisconnects_moreTimeOrLearners_namingThePhasesMinimum() {
    assertEquals("Raise roundTimeout (now 30 s) or give the learners less work per round: 1 "
            + "timed out; check the learners' processes and network: 1 disconnected; start more "
            + "learners or lower minEvaluateResults",
        ShortfallAdvice.advise("evaluate", List.of(
            new LearnerFailure("learner-1", "timed out after PT30S", Kind.TIMED_OUT),
            new LearnerFailure("learner-2", "learner disconnected: UNAVAILABLE",
                Kind.DISCONNECTED)), PLAN));
  }

  @Test
  void someRejected_someErrors_countsEachAndNeverAdvisesMoreLearners() {
    assertEquals("Fix the learners' model or data: 1 of the 2 failed results were refused as "
            + "invalid (a model that does not fit the global parameters, or numbers flops refuses; "
            + "the lines above say which); fix what fails on the learners (see their logs): 1 reported an "
            + "error",
        ShortfallAdvice.advise("fit", List.of(
            new LearnerFailure("learner-1", "r", Kind.REJECTED),
            new LearnerFailure("learner-2", "e", Kind.LEARNER_ERROR)), PLAN));
  }

  @Test
  void noFailures_tooFewLearners() {
    assertEquals("Start more learners or lower minFitResults",
        ShortfallAdvice.advise("fit", List.of(), PLAN));
  }

  @Test
  void failureLines_oneALearnerWithItsName_longReasonsShortened_countBeyondTheCap() {
    List<LearnerFailure> failures = new java.util.ArrayList<>();
    failures.add(new LearnerFailure("learner-1", "x".repeat(5000), Kind.OTHER));
    for (int i = 2; i <= 7; i++) {
      failures.add(new LearnerFailure("learner-" + i, "no GPU", Kind.LEARNER_ERROR));
    }
    String lines = ShortfallAdvice.failureLines(failures,
        id -> id.equals("learner-3") ? null : "site-" + id.substring(8));
    assertEquals("\n  learner-1 (site-1): " + "x".repeat(600) + "..."
        + "\n  learner-2 (site-2): no GPU\n  learner-3: no GPU\n  learner-4 (site-4): no GPU"
        + "\n  learner-5 (site-5): no GPU\n  and 2 more", lines);
    assertEquals("", ShortfallAdvice.failureLines(List.of(), id -> "x"));
  }
}
