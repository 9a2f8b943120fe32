package dev.flops.benchmarks.harness;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The harness end to end on a tiny model: a real aggregator JVM and a learner JVM hosting two
 * learners, over gRPC on loopback. It checks what the harness reports, not how fast.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class RoundHarnessSmokeTest {

  @Test
  void tinyRun_reportsEveryRound_andTheAggregatorsPeakRss(@TempDir Path logs) throws Exception {
    RoundHarness harness = new RoundHarness();
    new CommandLine(harness).parseArgs("-P", "1000", "-N", "2", "--rounds", "2",
        "--warmup-rounds", "1", "--learners-per-jvm", "2", "--kernel", "java", "--max-tensor-elements", "600",
        "--log-dir", logs.toString());
    RoundBenchResult result;
    try {
      result = harness.run();
    } finally {
      harness.destroyChildren();
    }

    assertEquals(2, result.roundSeconds().size());
    assertTrue(result.roundSeconds().stream().allMatch(s -> s > 0), result.line());
    assertTrue(result.serverPeakRssMib() > 10, result.line());
    assertEquals("0", result.extra().get("fit_failed"));
    assertEquals("0", result.extra().get("evaluate_failed"));
    assertEquals("2", result.extra().get("tensors"));
    assertEquals("1", result.extra().get("learner_jvms"));
    assertTrue(Double.parseDouble(result.extra().get("learner_peak_rss_mb")) > 10, result.line());
    // One VmHWM and one VmRSS per round, the current never above the peak read after it.
    String[] peaks = result.extra().get("peak_rss_by_round_mb").split(",");
    String[] current = result.extra().get("rss_by_round_mb").split(",");
    assertEquals(2, peaks.length, result.line());
    assertEquals(2, current.length, result.line());
    for (int r = 0; r < 2; r++) {
      double rss = Double.parseDouble(current[r]);
      assertTrue(rss > 10 && rss <= Double.parseDouble(peaks[r]), result.line());
    }
    assertTrue(result.line().startsWith("ROUND_BENCH P=1000 N=2 rounds=2 round_s="),
        result.line());
    assertTrue(result.line().contains(" warmup_rounds=1 "), result.line());
    assertEquals(result.roundSeconds().get(1), result.steadyRoundSeconds(), 1e-12);
  }

  @Test
  void aWarmUpThatLeavesNoRound_isRefusedBeforeAnyProcessStarts(@TempDir Path logs) {
    RoundHarness harness = new RoundHarness();
    new CommandLine(harness).parseArgs("-P", "1000", "-N", "2", "--rounds", "3",
        "--warmup-rounds", "3", "--log-dir", logs.toString());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, harness::run);
    assertTrue(e.getMessage().contains("--warmup-rounds must be 0 to --rounds - 1 (2)"),
        e.getMessage());
  }

  @Test
  void robustStrategy_runsInTheAggregatorJvm_andIsNamedInTheLine(@TempDir Path logs)
      throws Exception {
    RoundHarness harness = new RoundHarness();
    new CommandLine(harness).parseArgs("-P", "1000", "-N", "3", "--rounds", "1",
        "--warmup-rounds", "0", "--learners-per-jvm", "3", "--kernel", "java",
        "--max-tensor-elements", "600", "--strategy", "krum", "--log-dir", logs.toString());
    RoundBenchResult result;
    try {
      result = harness.run();
    } finally {
      harness.destroyChildren();
    }

    assertEquals(1, result.roundSeconds().size());
    assertEquals("0", result.extra().get("fit_failed"));
    assertEquals("krum", result.extra().get("strategy"));
    assertTrue(result.line().contains(" strategy=krum"), result.line());
  }

  @Test
  void unknownStrategy_refusedBeforeAnyProcessStarts() {
    IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
        () -> HarnessAggregatorMain.strategy("median", 0, null,
            dev.flops.api.strategy.FedAvg.builder()));
    assertEquals("unknown --strategy 'median'; choose fedavg, fedmedian, fedtrimmedavg, krum, "
        + "multikrum or bulyan", refused.getMessage());
  }
}
