package dev.flops.benchmarks.harness;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class JvmFlagsTest {

  @Test
  void aggregatorHeap_isEightModelsPlus256MiB() {
    // 10M float32 = 40,000,000 bytes; 8 of them are 305.2 MiB, rounded up to 306
    assertEquals(306 + 256, JvmFlags.aggregatorHeapMib(10_000_000));
    assertEquals(List.of("-Xmx562m"), JvmFlags.aggregator(10_000_000));
  }

  @Test
  void learnerHeap_isFiveModelsPerLearnerPlus96MiB() {
    assertEquals(191 + 96, JvmFlags.learnerHeapMib(10_000_000, 1));
    // 100 learners of 100k parameters: 5 * 400 KB * 100 = 190.7 MiB, rounded up to 191
    assertEquals(191 + 96, JvmFlags.learnerHeapMib(100_000, 100));
    assertTrue(JvmFlags.learner(10_000_000, 1).containsAll(
        List.of("-Xmx287m", "-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError")));
  }

  @Test
  void learnersOfAHugeModel_keepTheDefaultCollector() {
    List<String> flags = JvmFlags.learner(640_000_000, 1);
    assertEquals("-Xmx12304m", flags.get(0));
    assertFalse(flags.contains("-XX:+UseSerialGC"), flags.toString());
  }
}
