package dev.flops.benchmarks.harness;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

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
        new RoundBenchResult(10_000_000, 10, List.of(4.5, 0.2, 0.4), 812.25, extra);

    assertEquals("ROUND_BENCH P=10000000 N=10 rounds=3 round_s=0.300 server_peak_rss_mb=812.3"
        + " round1_s=4.500 rounds_s=4.500,0.200,0.400 kernel=nd4j load1_start=0.50",
        result.line());
  }

  @Test
  void steadyRoundSeconds_isTheMedianOfRoundsAfterTheFirst() {
    assertEquals(0.3, result(9.0, 0.2, 0.4).steadyRoundSeconds(), 1e-12);
    assertEquals(0.5, result(9.0, 0.9, 0.5, 0.1).steadyRoundSeconds(), 1e-12);
    assertEquals(9.0, result(9.0).steadyRoundSeconds(), 1e-12);
  }

  @Test
  void aResultNeedsARound() {
    assertThrows(IllegalArgumentException.class, () -> result());
  }

  private static RoundBenchResult result(double... seconds) {
    return new RoundBenchResult(1, 1,
        java.util.Arrays.stream(seconds).boxed().toList(), 1, Map.of());
  }
}
