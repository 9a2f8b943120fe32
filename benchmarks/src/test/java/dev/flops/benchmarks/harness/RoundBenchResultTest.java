package dev.flops.benchmarks.harness;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RoundBenchResultTest {

  @Test
  void line_startsWithTheRequiredFields_thenTheExtrasInOrder() {
    Map<String, String> extra = new LinkedHashMap<>();
    extra.put("kernel", "nd4j");
    extra.put("load1_start", "0.50");
    RoundBenchResult result =
        new RoundBenchResult(10_000_000, 10, List.of(4.5, 0.2, 0.4), 1, 812.25, extra);

    assertEquals("ROUND_BENCH P=10000000 N=10 rounds=3 round_s=0.300 warmup_rounds=1"
        + " server_peak_rss_mb=812.3"
        + " round1_s=4.500 rounds_s=4.500,0.200,0.400 kernel=nd4j load1_start=0.50",
        result.line());
  }

  @Test
  void steadyRoundSeconds_isTheMedianOfRoundsAfterTheWarmUp() {
    assertEquals(0.3, result(1, 9.0, 0.2, 0.4).steadyRoundSeconds(), 1e-12);
    assertEquals(0.5, result(1, 9.0, 0.9, 0.5, 0.1).steadyRoundSeconds(), 1e-12);
    assertEquals(9.0, result(0, 9.0).steadyRoundSeconds(), 1e-12);
    // The slow JIT-bound rounds 2-3 are left out with a warm-up of 3.
    assertEquals(0.1, result(3, 9.0, 0.9, 0.8, 0.1, 0.2, 0.05).steadyRoundSeconds(), 1e-12);
  }

  @Test
  void aResultNeedsARoundAfterTheWarmUp() {
    assertThrows(IllegalArgumentException.class, () -> result(0));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> result(2, 9.0, 0.1));
    assertTrue(e.getMessage().contains("0 to 1"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> result(-1, 9.0, 0.1));
  }

  private static RoundBenchResult result(int warmup, double... seconds) {
    return new RoundBenchResult(1, 1,
        java.util.Arrays.stream(seconds).boxed().toList(), warmup, 1, Map.of());
  }
}
