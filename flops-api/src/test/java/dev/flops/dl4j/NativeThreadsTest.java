package dev.flops.dl4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;

/** Sizing ND4J's native threads from inside the JVM, read back from ND4J itself. */
class NativeThreadsTest {

  @Test
  void limit_setsOpenMpNd4jAndBlasThreads_readBack() {
    int before = NativeThreads.current();
    try {
      assertEquals(1, NativeThreads.limit(1));
      assertEquals(1, NativeThreads.current());
      assertEquals(1, Nd4j.factory().blas().getMaxThreads());
    } finally {
      NativeThreads.limit(before);
    }
    assertEquals(before, NativeThreads.current());
  }

  @Test
  void limit_outOfRange_isRefusedNamingTheValue() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> NativeThreads.limit(0));
    assertEquals("native threads must be from 1 to 1024 but was 0; give each process about its "
        + "cores divided by the processes computing on the machine", e.getMessage());
  }

  @Test
  void perProcess_sharesTheCoresAndGivesAtLeastOne() {
    assertEquals(1, NativeThreads.perProcess(2, 3));
    assertEquals(2, NativeThreads.perProcess(8, 3));
    assertEquals(8, NativeThreads.perProcess(8, 1));
    assertThrows(IllegalArgumentException.class, () -> NativeThreads.perProcess(0, 1));
    assertThrows(IllegalArgumentException.class, () -> NativeThreads.perProcess(2, 0));
  }
}
