package dev.flops.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ReportedNumbersTest {

  private static void assertRefused(Executable call, String... parts) {
    // Its own type, so that a learner reports a refused result, not an error of its code.
    InvalidResultException e = assertThrows(InvalidResultException.class, call);
    for (String part : parts) {
      assertTrue(e.getMessage().contains(part), () -> "'" + part + "' missing: " + e.getMessage());
    }
  }

  @ParameterizedTest
  @ValueSource(doubles = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 1e300,
      -1e300, 1.0000001e100})
  void loss_nonFiniteOrHuge_refusedNamingTheValue(double loss) {
    assertRefused(() -> ReportedNumbers.loss(loss), "loss is " + loss);
  }

  @ParameterizedTest
  @ValueSource(doubles = {0.0, -3.5, 1e100, -1e100, 1e-300})
  void loss_finiteWithinTheBound_negativeIncluded_accepted(double loss) {
    assertEquals(loss, ReportedNumbers.loss(loss));
  }

  @Test
  void numExamples_boundsAndUnsignedReading() {
    assertEquals(1, ReportedNumbers.numExamples(1));
    assertEquals(ReportedNumbers.MAX_EXAMPLES, ReportedNumbers.numExamples(1L << 32));
    assertRefused(() -> ReportedNumbers.numExamples(0), "num_examples is 0");
    assertRefused(() -> ReportedNumbers.numExamples((1L << 32) + 1), "num_examples is 4294967297",
        "4294967296");
    assertRefused(() -> ReportedNumbers.numExamples(-1), "num_examples is 18446744073709551615");
  }

  @Test
  void maxExamplesTimesMaxResults_cannotOverflowTheTotal() {
    // With the most results a round can hold, the total of examples still fits a long.
    assertTrue(Long.MAX_VALUE / ReportedNumbers.MAX_EXAMPLES >= Integer.MAX_VALUE);
    assertTrue(Double.isFinite(ReportedNumbers.MAX_MAGNITUDE * Long.MAX_VALUE));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "../x", "a/../b", "/abs", "trailing/", "a//b", ".", "tab\there",
      "semi;colon", "new\nline"})
  void metricName_invalid_refused(String name) {
    assertRefused(() -> ReportedNumbers.metricName(name), "metric name");
  }

  @ParameterizedTest
  @ValueSource(strings = {"accuracy", "system/cpu_utilization", "top-5 acc", "val.loss", "f1:macro",
      "précision"})
  void metricName_valid_accepted(String name) {
    assertEquals(name, ReportedNumbers.metricName(name));
  }

  @Test
  void metrics_firstBadValueNamed() {
    Map<String, Double> metrics = new LinkedHashMap<>();
    metrics.put("accuracy", 0.5);
    metrics.put("mse", Double.NaN);
    assertRefused(() -> ReportedNumbers.metrics(metrics), "metric 'mse' is NaN",
        "finite metrics");
  }

  @Test
  void metrics_tooMany_refused() {
    Map<String, Double> metrics = new LinkedHashMap<>();
    for (int i = 0; i <= ReportedNumbers.MAX_METRICS; i++) {
      metrics.put("m" + i, 1.0);
    }
    assertRefused(() -> ReportedNumbers.metrics(metrics), "257 metrics", "256");
  }

  @Test
  void evaluateResult_appliesTheRules_soALearnerFindsTheFaultWhereItArises() {
    assertRefused(() -> EvaluateResult.of(0.5, Double.NaN, 10), "metric 'accuracy' is NaN");
    assertRefused(() -> EvaluateResult.of(Double.POSITIVE_INFINITY, 0.5, 10), "loss is Infinity");
    assertRefused(() -> EvaluateResult.of(0.5, 0.5, 1L << 40), "num_examples is 1099511627776");
  }

  @Test
  void fitResult_appliesTheRules() {
    Parameters p = Parameters.of(Tensor.ofFloats("w", new long[] {1}, new float[] {1f}));
    assertRefused(() -> new FitResult(p, 0, Map.of()), "num_examples is 0");
    assertRefused(() -> new FitResult(p, 5, Map.of("train_loss", Double.NEGATIVE_INFINITY)),
        "metric 'train_loss' is -Infinity");
  }
}
