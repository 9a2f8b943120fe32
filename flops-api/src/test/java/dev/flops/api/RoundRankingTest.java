package dev.flops.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RoundRankingTest {

  private static RoundSummary round(int number, double loss, Map<String, Double> metrics) {
    return new RoundSummary(number, 1, 0, 1, 0, new Evaluation(loss, 10, 1, metrics),
        Duration.ofSeconds(1), List.of());
  }

  private static RoundSummary unevaluated(int number) {
    return new RoundSummary(number, 1, 0, 0, 1, null, Duration.ofSeconds(1), List.of());
  }

  @Test
  void defaults_withoutAccuracy_lowestLossWins() {
    List<RoundSummary> rounds = List.of(round(1, 9, Map.of("mse", 3.0)),
        round(2, 8, Map.of("mse", 2.0)), round(3, 7, Map.of("mse", 1.0)));

    assertEquals(3, RoundRanking.defaults().best(rounds).orElseThrow().round());
    assertEquals("lowest loss", RoundRanking.defaults().describeChoiceOf(rounds.get(2)));
  }

  @Test
  void defaults_highestAccuracy_aRoundWithAccuracyBeatsOneWithout() {
    List<RoundSummary> rounds = List.of(round(1, 1, Map.of("accuracy", 0.5)),
        round(2, 0.1, Map.of()), round(3, 2, Map.of("accuracy", 0.6)),
        round(4, 0.5, Map.of("accuracy", 0.6)));

    assertEquals(4, RoundRanking.defaults().best(rounds).orElseThrow().round(),
        "0.6 twice: the lower loss wins");
  }

  @Test
  void minimize_aMetric_rankedByIt_roundsWithoutItFallBackToLoss() {
    RoundRanking mse = RoundRanking.minimize("mse");
    List<RoundSummary> rounds = List.of(round(1, 9, Map.of("mse", 5.0)),
        round(2, 8, Map.of("mse", 3.0)), round(3, 7, Map.of("mse", 4.0)),
        round(4, 1, Map.of()));

    assertEquals(2, mse.best(rounds).orElseThrow().round());
    assertEquals(4, mse.best(List.of(round(3, 7, Map.of()), round(4, 1, Map.of())))
        .orElseThrow().round());
    assertEquals("lowest mse", mse.describe());
  }

  @Test
  void maximize_loss_isTheFederatedLoss() {
    RoundRanking ranking = RoundRanking.maximize(RoundRanking.LOSS);
    assertEquals(1, ranking.best(List.of(round(1, 9, Map.of()), round(2, 8, Map.of())))
        .orElseThrow().round());
  }

  @Test
  void unevaluatedRounds_areNeverBest_tiesKeepTheEarlier() {
    RoundRanking ranking = RoundRanking.defaults();
    assertTrue(ranking.best(List.of(unevaluated(1), unevaluated(2))).isEmpty());
    assertFalse(ranking.isBetter(unevaluated(2), round(1, 1, Map.of())));
    assertTrue(ranking.isBetter(round(2, 1, Map.of()), unevaluated(1)));
    assertFalse(ranking.isBetter(round(2, 1, Map.of("accuracy", 0.5)),
        round(1, 1, Map.of("accuracy", 0.5))));
  }

  @Test
  void invalidMetricName_refused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RoundRanking.minimize("../mse"));
    assertTrue(e.getMessage().contains("best-round metric"), e.getMessage());
    assertThrows(NullPointerException.class, () -> new RoundRanking("mse", null));
  }
}
