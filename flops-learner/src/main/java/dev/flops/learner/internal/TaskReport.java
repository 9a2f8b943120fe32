package dev.flops.learner.internal;

import dev.flops.api.EvaluateResult;
import dev.flops.api.FitResult;
import java.util.Locale;
import java.util.Map;

/**
 * The end-of-task line a learner logs, so that a person watching one learner sees what each task
 * did: examples, loss and metrics, and for a fit where the time went (download, training,
 * upload).
 */
final class TaskReport {
  private TaskReport() {}

  /** "20000 examples, train_loss 0.5123; download 0.05 s, fit 3.10 s, upload 0.06 s". */
  static String fit(FitResult result, long downloadNanos, long fitNanos, long uploadNanos) {
    return result.numExamples() + " examples" + metrics(result.metrics())
        + "; download " + seconds(downloadNanos) + ", fit " + seconds(fitNanos) + ", upload "
        + seconds(uploadNanos);
  }

  /** "3333 examples, loss 0.4830, accuracy 0.8395". */
  static String evaluate(EvaluateResult result) {
    return result.numExamples() + " examples, loss " + number(result.loss())
        + metrics(result.metrics());
  }

  static String seconds(long nanos) {
    return String.format(Locale.ROOT, "%.2f s", nanos / 1e9);
  }

  private static String metrics(Map<String, Double> metrics) {
    StringBuilder text = new StringBuilder();
    metrics.forEach((name, value) -> text.append(", ").append(name).append(' ')
        .append(number(value)));
    return text.toString();
  }

  private static String number(double value) {
    return String.format(Locale.ROOT, "%.4f", value);
  }
}
