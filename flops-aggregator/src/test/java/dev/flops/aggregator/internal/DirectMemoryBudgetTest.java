package dev.flops.aggregator.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The aggregator's direct-memory budget: the issue's case, and the three answers it can give. */
class DirectMemoryBudgetTest {
  private static final long MIB = 1L << 20;

  @Test
  void issueCase_400MbModelUnderOneGigabyte_refusedWithTheFlagAndTheSize() {
    // -XX:MaxDirectMemorySize=1g, a 400 MB model, 2 uploads in flight, 16 downloads.
    DirectMemory.Budget budget = new DirectMemory.Budget(400_000_000L, 2, 16, 1024 * MIB);
    IllegalStateException refused = assertThrows(IllegalStateException.class, budget::check);
    assertEquals("the aggregator needs about 1552 MiB of direct memory for this model (382 MiB) "
        + "but the JVM allows 1024 MiB: (2 + 2) models of 382 MiB for the global parameters, the "
        + "running sum and the updates in flight (maxInFlightUploads = 2), plus 26 MiB for transfers. "
        + "Start it with -XX:MaxDirectMemorySize=1933m or more, or lower maxInFlightUploads (now "
        + "2; each costs one model)", refused.getMessage());
  }

  @Test
  void roomForARoundButNotTheSlack_warns() {
    DirectMemory.Budget budget = new DirectMemory.Budget(100 * MIB, 1, 1, 320 * MIB);
    Optional<String> warning = budget.check();
    assertTrue(warning.isPresent());
    assertTrue(warning.get().startsWith("direct memory is tight: the JVM allows 320 MiB and a "
        + "round needs 306 MiB"), warning.get());
    assertTrue(warning.get().endsWith("-XX:MaxDirectMemorySize=406m"), warning.get());
  }

  @Test
  void room_noWarning() {
    assertEquals(Optional.empty(), new DirectMemory.Budget(100 * MIB, 1, 1, 410 * MIB).check());
  }

  @Test
  void outOfMemory_saysWhatToRaiseItTo() {
    DirectMemory.Budget budget = new DirectMemory.Budget(100 * MIB, 2, 16, 320 * MIB);
    assertEquals("the aggregator ran out of direct memory (Cannot reserve 1 bytes): raise "
        + "-XX:MaxDirectMemorySize to 526m ((3 + 2) models of 100 MiB plus 26 MiB for transfers; "
        + "the JVM allows 320 MiB) or lower maxInFlightUploads (now 2; each costs one model)",
        budget.exhausted(new OutOfMemoryError("Cannot reserve 1 bytes")));
  }

  @Test
  void limitOfThisJvm_isPositive() {
    assertTrue(DirectMemory.limit() > 0);
  }
}
