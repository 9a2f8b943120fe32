package dev.flops.examples.fashion;

import dev.flops.aggregator.tracking.TrackingSummary;
import dev.flops.api.EvaluateResult;
import dev.flops.api.Metrics;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;

/**
 * The results the Fashion mains print to standard output: the setup (data set and partition), one
 * line per round, the best round and where it was tracked. Logs go to standard error, so that
 * standard output holds these lines only.
 */
final class RoundTable {
  private RoundTable() {}

  /**
   * @param central the central evaluation on the whole test set, or null if there was none
   */
  static void print(PrintStream out, String setup, TrainingResult result, CentralTestSet central,
      Duration wall) {
    out.println(setup);
    if (central != null) {
      out.printf(Locale.ROOT, "accuracy: federated (each learner's own test shard, "
          + "example-weighted); central (the global model on all %d test images)%n",
          central.examples());
    }
    out.println("round  fit ok/failed  evaluate ok/failed  loss    accuracy"
        + (central == null ? "" : "  central") + "  duration  learner wait");
    for (RoundSummary round : result.rounds()) {
      String centralAccuracy = central == null ? "" : central.result(round.round())
          .map(RoundTable::accuracy)
          .map(a -> String.format(Locale.ROOT, "  %.4f ", a))
          .orElse("  n/a    ");
      out.printf(Locale.ROOT, "%5d  %6d/%-6d  %11d/%-6d  %.4f  %.4f  %s  %5.1f s  %8.1f s%n",
          round.round(), round.fitSucceeded(), round.fitFailed(), round.evaluateSucceeded(),
          round.evaluateFailed(), round.loss(), round.accuracy(), centralAccuracy,
          round.duration().toMillis() / 1000.0, round.learnerWait().toMillis() / 1000.0);
    }
    result.best().ifPresent(best -> out.printf(Locale.ROOT,
        "best round: %d (accuracy %.4f, loss %.4f); final accuracy %.4f; wall time %.1f s%n",
        best.round(), best.accuracy(), best.loss(), result.finalRound().accuracy(),
        wall.toMillis() / 1000.0));
    result.trackingInfo().ifPresent(info ->
        TrackingSummary.lines(info, "bin/run-example flush-tracking").forEach(out::println));
  }

  private static double accuracy(EvaluateResult result) {
    Double accuracy = result.metrics().get(Metrics.ACCURACY);
    return accuracy == null ? Double.NaN : accuracy;
  }
}
