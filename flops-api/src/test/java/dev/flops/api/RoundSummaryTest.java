package dev.flops.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RoundSummaryTest {

  private static RoundSummary round(int number, double loss, double accuracy) {
    Evaluation evaluation = new Evaluation(loss, 100, 2, Map.of(Metrics.ACCURACY, accuracy));
    return new RoundSummary(number, 2, 0, 2, 0, evaluation, Duration.ofSeconds(1), List.of());
  }

  private static RoundSummary lossOnly(int number, double loss) {
    Evaluation evaluation = new Evaluation(loss, 100, 2, Map.of());
    return new RoundSummary(number, 2, 0, 2, 0, evaluation, Duration.ofSeconds(1), List.of());
  }

  private static RoundSummary unevaluated(int number) {
    return new RoundSummary(number, 2, 0, 0, 0, null, Duration.ofSeconds(1), List.of());
  }

  @Test
  void isBetterThan_higherAccuracyWinsWhateverTheLoss() {
    RoundSummary accurate = round(2, 5.0, 0.9);
    RoundSummary lowLoss = round(1, 0.1, 0.8);

    assertTrue(accurate.isBetterThan(lowLoss));
    assertFalse(lowLoss.isBetterThan(accurate));
  }

  @Test
  void isBetterThan_equalAccuracy_goesToLowerLoss() {
    RoundSummary lower = round(2, 0.4, 0.8);
    RoundSummary higher = round(1, 0.5, 0.8);

    assertTrue(lower.isBetterThan(higher));
    assertFalse(higher.isBetterThan(lower));
  }

  @Test
  void isBetterThan_equalAccuracyAndLoss_keepsTheEarlierRound() {
    assertFalse(round(2, 0.4, 0.8).isBetterThan(round(1, 0.4, 0.8)));
  }

  @Test
  void isBetterThan_aRoundWithAccuracyBeatsOneWithout() {
    RoundSummary noAccuracy = lossOnly(2, 0.01);
    RoundSummary notEvaluated = unevaluated(4);
    RoundSummary poor = round(1, 9.0, 0.1);

    assertFalse(noAccuracy.isBetterThan(poor));
    assertFalse(notEvaluated.isBetterThan(poor));
    assertTrue(poor.isBetterThan(noAccuracy));
    assertTrue(poor.isBetterThan(notEvaluated));
  }

  @Test
  void isBetterThan_withoutAccuracy_lowerLossWins() {
    assertTrue(lossOnly(2, 8.0).isBetterThan(lossOnly(1, 9.0)));
    assertFalse(lossOnly(2, 9.0).isBetterThan(lossOnly(1, 8.0)));
    assertFalse(lossOnly(2, 8.0).isBetterThan(lossOnly(1, 8.0)));
  }

  @Test
  void isBetterThan_everyEvaluatedRoundBeatsNull_anUnevaluatedOneNever() {
    assertTrue(round(1, 0.5, 0.5).isBetterThan(null));
    assertTrue(lossOnly(1, 0.5).isBetterThan(null));
    assertFalse(unevaluated(1).isBetterThan(null));
  }

  @Test
  void evaluation_nonFiniteLossOrMetric_refusedNamingIt() {
    IllegalArgumentException loss = assertThrows(IllegalArgumentException.class,
        () -> new Evaluation(Double.NaN, 100, 2, Map.of()));
    IllegalArgumentException metric = assertThrows(IllegalArgumentException.class,
        () -> new Evaluation(0.5, 100, 2, Map.of("accuracy", Double.POSITIVE_INFINITY)));

    assertTrue(loss.getMessage().contains("loss is NaN"), loss.getMessage());
    assertTrue(metric.getMessage().contains("'accuracy' is Infinity"), metric.getMessage());
  }

  @Test
  void lossAndAccuracy_areNaNWithoutEvaluation() {
    RoundSummary summary = unevaluated(1);

    assertTrue(Double.isNaN(summary.loss()));
    assertTrue(Double.isNaN(summary.accuracy()));
    assertTrue(summary.federatedEvaluation().isEmpty());
  }

  @Test
  void lossAndAccuracy_comeFromTheEvaluation() {
    RoundSummary summary = round(1, 0.3, 0.7);

    assertEquals(0.3, summary.loss());
    assertEquals(0.7, summary.accuracy());
  }

  @Test
  void constructor_roundBelowOne_throwsWithValue() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new RoundSummary(0, 0, 0, 0, 0, null, Duration.ZERO, List.of()));

    assertTrue(e.getMessage().contains("0"), e.getMessage());
  }

  @Test
  void learnerWait_isApartFromTheDuration_andZeroWhenNotGiven() {
    RoundSummary waited = new RoundSummary(1, 2, 0, 2, 0, null, Duration.ofSeconds(3), List.of(),
        RoundResources.UNKNOWN, Duration.ofSeconds(40));
    assertEquals(Duration.ofSeconds(3), waited.duration());
    assertEquals(Duration.ofSeconds(40), waited.learnerWait());
    assertEquals(Duration.ZERO, round(1, 0.5, 0.5).learnerWait());
  }

  @Test
  void constructor_negativeLearnerWait_throwsWithValue() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new RoundSummary(1, 0, 0, 0, 0, null, Duration.ZERO, List.of(),
            RoundResources.UNKNOWN, Duration.ofSeconds(-1)));
    assertEquals("durations must not be negative but duration was PT0S and learnerWait PT-1S",
        e.getMessage());
  }
}
