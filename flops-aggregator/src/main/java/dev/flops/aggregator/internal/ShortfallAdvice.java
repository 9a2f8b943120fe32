package dev.flops.aggregator.internal;

import dev.flops.api.LearnerFailure;
import dev.flops.api.LearnerFailure.Kind;
import dev.flops.aggregator.TrainingPlan;
import dev.flops.proto.codec.Durations;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * What to do about a phase that gathered too few results, chosen by the {@linkplain Kind kinds}
 * of its failures: more learners or a longer round timeout cure time-outs and dropouts, never a
 * learner whose every update is rejected.
 */
final class ShortfallAdvice {
  /** How much of a failure's reason the advice quotes. */
  private static final int MAX_QUOTE_CHARS = 600;
  /** How many failures a message lists one per line; the rest are counted. */
  static final int MAX_LISTED = 5;

  private ShortfallAdvice() {}

  /**
   * Returns the advice for a phase that fell short.
   *
   * @param phase "fit" or "evaluate"
   * @param failures the failures of the phase's last attempt
   * @param plan the training plan, for the knobs the advice names
   * @return one or more sentences, the first capitalised, without a final full stop
   */
  static String advise(String phase, List<LearnerFailure> failures, TrainingPlan plan) {
    String minimum = phase.equals("fit") ? "minFitResults" : "minEvaluateResults";
    Map<Kind, List<LearnerFailure>> byKind = new EnumMap<>(Kind.class);
    for (LearnerFailure failure : failures) {
      byKind.computeIfAbsent(failure.kind(), k -> new ArrayList<>()).add(failure);
    }
    List<String> advice = new ArrayList<>();
    List<LearnerFailure> rejected = byKind.get(Kind.REJECTED);
    if (rejected != null) {
      advice.add(String.format("fix the learners' model or data: %s refused as invalid (a model "
          + "that does not fit the global parameters, or numbers flops refuses; the lines above "
          + "say which)", rejected.size() == failures.size() ? "every failed result was"
              : rejected.size() + " of the " + failures.size() + " failed results were"));
    }
    List<LearnerFailure> errors = byKind.get(Kind.LEARNER_ERROR);
    if (errors != null) {
      advice.add(String.format("fix what fails on the learners (see their logs): %d reported an "
          + "error", errors.size()));
    }
    List<LearnerFailure> timedOut = byKind.get(Kind.TIMED_OUT);
    if (timedOut != null) {
      advice.add(String.format("raise roundTimeout (now %s) or give the learners less work per "
          + "round: %d timed out", Durations.forPeople(plan.roundTimeout()), timedOut.size()));
    }
    List<LearnerFailure> disconnected = byKind.get(Kind.DISCONNECTED);
    if (disconnected != null) {
      advice.add(String.format("check the learners' processes and network: %d disconnected",
          disconnected.size()));
    }
    List<LearnerFailure> other = byKind.get(Kind.OTHER);
    if (other != null) {
      advice.add(String.format("see the aggregator's log: %d failed otherwise", other.size()));
    }
    if (rejected == null && errors == null) {
      // Too few learners, or learners lost to time-outs and dropouts: more of them cover for it.
      advice.add("start more learners or lower " + minimum);
    }
    String text = String.join("; ", advice);
    return Character.toUpperCase(text.charAt(0)) + text.substring(1);
  }

  /**
   * Renders failures for a person: one indented line each, {@code learner-1 (name): reason}, the
   * first {@link #MAX_LISTED} of them, then how many more there were. The advice itself quotes
   * none, so that every cause appears once.
   *
   * @param failures the failures, in the order they came
   * @param names the name a learner id joined with, or null if unknown
   * @return the lines, each starting with a line break; empty if there are no failures
   */
  static String failureLines(List<LearnerFailure> failures, Function<String, String> names) {
    StringBuilder lines = new StringBuilder();
    int listed = Math.min(failures.size(), MAX_LISTED);
    for (LearnerFailure failure : failures.subList(0, listed)) {
      String name = names.apply(failure.learnerId());
      String reason = failure.reason();
      if (reason.length() > MAX_QUOTE_CHARS) {
        reason = reason.substring(0, MAX_QUOTE_CHARS) + "...";
      }
      lines.append("\n  ").append(failure.learnerId())
          .append(name == null || name.isEmpty() ? "" : " (" + name + ")")
          .append(": ").append(reason);
    }
    if (failures.size() > listed) {
      lines.append("\n  and ").append(failures.size() - listed).append(" more");
    }
    return lines.toString();
  }
}
