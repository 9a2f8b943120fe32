package dev.flops.benchmarks.harness;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class JvmFlagsTest {

  @Test
  void aggregatorDirectBudget_isThreePlusInFlightModelsPlus64MiBPlusPerLearnerBuffers() {
    // 10M float32 = 40,000,000 bytes; 5 of them are 190.7 MiB, rounded up to 191; 10 learners
    // add 10 / 8 = 1 MiB
    assertEquals(191 + 64 + 1, JvmFlags.aggregatorDirectMib(10_000_000, 2, 10));
    // the scale run: 1000 learners of 0.4 MB, 191 MiB (benchmarks/README.md, "1000 learners")
    assertEquals(2 + 64 + 125, JvmFlags.aggregatorDirectMib(100_000, 2, 1000));
    assertEquals(64 + 125, JvmFlags.aggregatorDirectMib(0, 2, 1000));
    assertEquals(List.of("-Xms128m", "-Xmx128m", "-XX:+AlwaysPreTouch", "-XX:+UseSerialGC",
            "-XX:MaxDirectMemorySize=256m",
            "-Dio.grpc.netty.shaded.io.netty.allocator.numDirectArenas=1",
            "-Dorg.bytedeco.javacpp.maxBytes=0", "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"),
        JvmFlags.aggregator(10_000_000, 2, 10));
  }

  @Test
  void learnerDirectBudget_isTwoModelsPerLearnerPlus256MiB() {
    // 2 * 40 MB = 76.3 MiB, rounded up to 77
    assertEquals(77 + 256, JvmFlags.learnerDirectMib(10_000_000, 1));
    // 100 learners of 100k parameters: 2 * 400 KB * 100 = 76.3 MiB, rounded up to 77
    assertEquals(77 + 256, JvmFlags.learnerDirectMib(100_000, 100));
    assertEquals(296, JvmFlags.learnerHeapMib(100));
    assertTrue(JvmFlags.learner(10_000_000, 1).containsAll(List.of("-Xmx98m",
        "-XX:MaxDirectMemorySize=333m", "-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError")));
  }

  @Test
  void hugeModel_fitsTheMachine_withOneUploadInFlight() {
    // 640M float32 = 2.56 GB: aggregator 4 models + 192 MiB, each learner 2 models + 256 MiB,
    // about 20 GiB of budgets for the aggregator and 2 learners on this 24 GB machine.
    long total = JvmFlags.aggregatorDirectMib(640_000_000, 1, 2)
        + 2 * JvmFlags.learnerDirectMib(640_000_000, 1);
    assertTrue(total < 21 * 1024, total + " MiB");
  }
}
