package dev.flops.benchmarks.harness;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class ProcStatusTest {

  @Test
  void parseKilobytes_readsTheNamedField() {
    String status = "Name:\tjava\nVmPeak:\t 9000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t   1000 kB\n";
    assertEquals(OptionalLong.of(123456L * 1024), ProcStatus.parseKilobytes(status, "VmHWM:"));
    assertEquals(OptionalLong.empty(), ProcStatus.parseKilobytes(status, "VmSwap:"));
  }

  @Test
  void ownPeakRss_isAtLeastTheCurrentRss() {
    long rss = ProcStatus.rss(ProcessHandle.current().pid()).orElseThrow();
    long peak = ProcStatus.ownPeakRss();
    assertTrue(rss > 0 && peak >= rss, "rss " + rss + " peak " + peak);
  }

  @Test
  void aProcessThatIsGone_hasNoStatus() throws Exception {
    Process done = new ProcessBuilder("true").start();
    done.waitFor();
    assertEquals(OptionalLong.empty(), ProcStatus.peakRss(done.pid()));
  }
}
