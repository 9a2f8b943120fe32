package dev.flops.aggregator.internal;

import dev.flops.api.EvaluateResult;
import dev.flops.api.FitResult;
import dev.flops.api.Parameters;
import dev.flops.api.ReportedNumbers;
import dev.flops.api.RoundRanking;
import dev.flops.proto.codec.Scalars;
import dev.flops.proto.codec.WireFormatException;
import dev.flops.proto.v1.Scalar;
import dev.flops.proto.v1.UploadHeader;
import java.util.Map;

/**
 * Checks the numbers of a learner's result as it arrives, before it can reach a strategy: loss,
 * example count and metrics by the rules of {@link ReportedNumbers}, and the type of the metric the
 * best round is ranked by (a number, not a bool standing in for one). A refusal is an
 * {@link IllegalArgumentException} naming the field and the value; the caller fails only that
 * learner's task with it. Immutable.
 */
final class ReportChecks {
  private final RoundRanking ranking;

  ReportChecks(RoundRanking ranking) {
    this.ranking = ranking;
  }

  /** Converts and checks a wire evaluation result. */
  EvaluateResult evaluation(dev.flops.proto.v1.EvaluateResult wire) {
    ReportedNumbers.loss(wire.getLoss());
    ReportedNumbers.numExamples("num_examples", wire.getNumExamples());
    return new EvaluateResult(wire.getLoss(), wire.getNumExamples(), metrics(wire.getMetricsMap()));
  }

  /**
   * Checks an upload header's example count and metrics, before any of its data is received.
   *
   * @return the metrics, converted
   */
  Map<String, Double> fitHeader(UploadHeader header) {
    ReportedNumbers.numExamples("num_examples", header.getNumExamples());
    return metrics(header.getMetricsMap());
  }

  /** Builds the fit result of a complete upload whose header passed {@link #fitHeader}. */
  FitResult fitResult(Parameters parameters, UploadHeader header) {
    return new FitResult(parameters, header.getNumExamples(), fitHeader(header));
  }

  private Map<String, Double> metrics(Map<String, Scalar> wire) {
    Scalar ranked = wire.get(ranking.metric());
    if (ranked != null && !Scalars.isNumber(ranked)) {
      throw new IllegalArgumentException(String.format(
          "metric '%s' is %s; the best round is ranked by '%s', so it must be a number",
          ranking.metric(), Scalars.describeType(ranked), ranking.metric()));
    }
    Map<String, Double> metrics;
    try {
      metrics = Scalars.toMetrics(wire);
    } catch (WireFormatException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
    return ReportedNumbers.metrics(metrics);
  }
}
