package dev.flops.aggregator.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.flops.api.LearnerFailure;
import dev.flops.api.LearnerFailure.Kind;
import dev.flops.api.strategy.FedAvg;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The advice for a phase that fell short follows the kinds of its failures, not their text. */
class ShortfallAdviceTest {
  private static final FedAvg STRATEGY =
      FedAvg.builder().roundTimeout(Duration.ofSeconds(30)).build();

  @Test
  void allRejected_fixTheModelOrData_only() {
    assertEquals("Fix the learners' model or data: every failed result was rejected by the "
            + "aggregator (first: learner-1: update rejected: x)",
        ShortfallAdvice.advise("fit", List.of(
            new LearnerFailure("learner-1", "update rejected: x", Kind.REJECTED),
            new LearnerFailure("learner-2", "update rejected: y", Kind.REJECTED)), STRATEGY));
  }

  @Test
  void timeoutsAndDisconnects_moreTimeOrLearners_namingThePhasesMinimum() {
    assertEquals("Raise roundTimeout (now PT30S) or give the learners less work per round: 1 "
            + "timed out; check the learners' processes and network: 1 disconnected (first: "
            + "learner-2: learner disconnected: UNAVAILABLE); start more learners or lower "
            + "minEvaluateLearners",
        ShortfallAdvice.advise("evaluate", List.of(
            new LearnerFailure("learner-1", "timed out after PT30S", Kind.TIMED_OUT),
            new LearnerFailure("learner-2", "learner disconnected: UNAVAILABLE",
                Kind.DISCONNECTED)), STRATEGY));
  }

  @Test
  void someRejected_someErrors_countsEachAndNeverAdvisesMoreLearners() {
    assertEquals("Fix the learners' model or data: 1 of the 2 failed results were rejected by "
            + "the aggregator (first: learner-1: r); fix what fails on the learners (see their "
            + "logs): 1 reported an error (first: learner-2: e)",
        ShortfallAdvice.advise("fit", List.of(
            new LearnerFailure("learner-1", "r", Kind.REJECTED),
            new LearnerFailure("learner-2", "e", Kind.LEARNER_ERROR)), STRATEGY));
  }

  @Test
  void noFailures_tooFewLearners() {
    assertEquals("Start more learners or lower minFitLearners",
        ShortfallAdvice.advise("fit", List.of(), STRATEGY));
  }

  @Test
  void longReasons_areShortenedInTheAdvice() {
    String advice = ShortfallAdvice.advise("fit",
        List.of(new LearnerFailure("learner-1", "x".repeat(5000), Kind.OTHER)), STRATEGY);
    assertEquals(true, advice.length() < 500, advice);
  }
}
