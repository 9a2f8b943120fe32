package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.internal.DirectMemory;
import dev.flops.aggregator.kernel.JavaAveraging;
import dev.flops.api.LearnerFailure;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Memory faults fail fast and honestly: an aggregator JVM (a real child process) whose
 * {@code -XX:MaxDirectMemorySize} cannot hold a round of its model refuses to start, naming the
 * flag and the size; one that is only tight warns; and an update whose buffers cannot be
 * allocated fails its task with that cause at once, gives its slot back, and the next upload
 * goes through.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DirectMemoryTest {
  private static final Duration WAIT = Duration.ofSeconds(60);

  @TempDir
  Path dir;

  @Test
  void tooLittleDirectMemoryForARound_startRefusedNamingTheFlagAndTheSize() throws Exception {
    // A 16 MiB model, 1 upload in flight, 1 download: a round holds (2 + 1) × 16 MiB plus a 4 MiB
    // upload message and a 1 MiB download chunk in transit, 53.2 MiB; the advice adds a model of
    // slack and 32 MiB for netty's pool, 101.2 MiB.
    try (ChildJvm aggregator = aggregatorWithDirectMemory("48m")) {
      String refused = aggregator.awaitLine(line -> line.startsWith("REFUSED "), WAIT);
      assertEquals("REFUSED the aggregator needs about 53.2 MiB of direct memory for this model "
          + "but the JVM allows 48.0 MiB: 48.0 MiB for (2 + 1) models of 16777216 bytes: the "
          + "global parameters, the running sum and the updates in flight (maxInFlightUploads = "
          + "1); 5.2 MiB for transfers: up to 1 downloads at once of 1 MiB + 64 KiB each, and 4 "
          + "MiB + 64 KiB per upload. Start it with -XX:MaxDirectMemorySize=102m or more (the "
          + "advice adds 16.0 MiB for one model of slack (a previous global model not yet "
          + "collected) and 32.0 MiB for netty's pooled buffers; add 128 KiB for each learner that "
          + "will connect, e.g. 125.0 MiB for 1000)", refused);
      assertEquals(2, aggregator.awaitExit(WAIT));
      assertFalse(aggregator.output().contains("listening"), aggregator.output());
    }
  }

  @Test
  void directMemoryOnlyWithoutSlack_startsWithAWarningNamingTheFlag() throws Exception {
    try (ChildJvm aggregator = aggregatorWithDirectMemory("64m")) {
      aggregator.awaitLine("STARTED"::equals, WAIT);
      assertEquals(0, aggregator.awaitExit(WAIT));
      assertTrue(aggregator.output().contains("direct memory is tight: the JVM allows 64.0 MiB and "
          + "a round needs 53.2 MiB"), aggregator.output());
      assertTrue(aggregator.output().contains("Start the aggregator with "
          + "-XX:MaxDirectMemorySize=102m"), aggregator.output());
    }
  }

  @Test
  void enoughDirectMemory_startsWithoutAWarning() throws Exception {
    try (ChildJvm aggregator = aggregatorWithDirectMemory("104m")) {
      aggregator.awaitLine("STARTED"::equals, WAIT);
      assertEquals(0, aggregator.awaitExit(WAIT));
      assertFalse(aggregator.output().contains("direct memory"), aggregator.output());
    }
  }

  @Test
  void learnersWhoseShareNoLongerFits_warnWhenTheyJoin_namingTheSize() throws Exception {
    // Silent at start with room for 4 learners' share (128 KiB each) above the advice; the 5th
    // to join makes the advice exceed the limit.
    long advisedAtStart = new DirectMemory.Budget(16L << 20, 1, 1,
        DirectMemory.Budget.perLearner(64 * 1024, 64 * 1024), 0, 1L << 40).advisedBytes();
    String output = outputWithLearners(Long.toString(advisedAtStart + 4 * 128 * 1024), 8);
    assertEquals(1, output.split("direct memory is tight", -1).length - 1, output);
    assertTrue(output.contains("with 5 learners connected, direct memory is tight"), output);
    assertTrue(output.contains("and 0.7 MiB for the 5 connected learners (128 KiB each)"),
        output);
    assertTrue(output.contains(" for the 5 connected learners, plus 128 KiB for each further "
        + "one"), output);
    long advisedWith5 = advisedAtStart + 5 * 128 * 1024;
    assertTrue(output.contains("-XX:MaxDirectMemorySize=" + ((advisedWith5 + (1 << 20) - 1)
        >> 20) + "m"), output);
  }

  @Test
  void tightAtStart_joinsWarnAgainOnlyOnceTheLearnersShareReachesOneMib() throws Exception {
    String output = outputWithLearners("64m", 9);
    // At start, then at the 8th learner (8 × 128 KiB = 1 MiB), not at the 1st to 7th or 9th.
    assertEquals(2, output.split("direct memory is tight", -1).length - 1, output);
    assertTrue(output.contains("with 8 learners connected, direct memory is tight"), output);
    assertTrue(output.contains("-XX:MaxDirectMemorySize=103m for the 8 connected learners"),
        output);
  }

  /** Runs the aggregator JVM under {@code limit} while {@code learners} raw learners join. */
  private String outputWithLearners(String limit, int learners) throws Exception {
    try (ChildJvm aggregator = aggregatorWithDirectMemory(limit, Integer.toString(learners))) {
      aggregator.awaitLine(("JOINED " + learners)::equals, WAIT);
      assertEquals(0, aggregator.awaitExit(WAIT));
      return aggregator.output();
    }
  }

  /** An aggregator JVM for a 16 MiB model, one upload in flight, under the given limit. */
  private ChildJvm aggregatorWithDirectMemory(String limit, String... learners) throws Exception {
    List<String> args = new java.util.ArrayList<>(List.of("16", "1"));
    args.addAll(List.of(learners));
    return ChildJvm.start("aggregator", List.of(), List.of("-XX:MaxDirectMemorySize=" + limit),
        DirectMemoryMain.class, dir.resolve(limit + ".log"), args.toArray(String[]::new));
  }

  @Test
  void allocationFailureInAnUploadSlot_failsThatTaskWithTheCause_slotReleased_nextUploadsPass()
      throws Exception {
    Parameters initial = Federations.randomParameters(3, false);
    TrainingPlan plan = TrainingPlan.builder().rounds(2).minAvailableLearners(2)
        .roundTimeout(Duration.ofSeconds(30)).build();
    FedAvg strategy = FedAvg.builder().build();
    try (LogCapture log = new LogCapture();
        Aggregator aggregator = Aggregator.builder()
            .host("127.0.0.1").port(0)
            .model(new ArrayModel(initial))
            .averagingKernel(new JavaAveraging())
            .maxInFlightUploads(1)
            .maxInlineBytes(0) // inline updates are decoded on the heap, not in the slots
            .build()
            .start()) {
      // The JVM's own message when -XX:MaxDirectMemorySize is reached, once: a fake, since
      // exhausting this test JVM's direct memory would starve everything else running in it.
      AtomicInteger allocations = new AtomicInteger();
      aggregator.uploadSlots().allocator(bytes -> {
        if (allocations.incrementAndGet() == 1) {
          throw new OutOfMemoryError("Cannot reserve " + bytes + " bytes of direct buffer memory "
              + "(allocated: 1073741000, limit: 1073741824)");
        }
        return ByteBuffer.allocateDirect(bytes);
      });
      List<CompletableFuture<Void>> learners = List.of(
          Federations.startLearner("a", aggregator.port(), FakeTrainer.adding(initial, 1f, 10)),
          Federations.startLearner("b", aggregator.port(), FakeTrainer.adding(initial, 2f, 10)));
      long start = System.nanoTime();
      TrainingResult result = aggregator.train(plan, strategy);
      aggregator.shutdownLearners();
      long seconds = (System.nanoTime() - start) / 1_000_000_000;
      for (CompletableFuture<Void> learner : learners) {
        learner.get(10, TimeUnit.SECONDS);
      }

      RoundSummary first = result.rounds().get(0);
      assertEquals(1, first.fitSucceeded(), first.toString());
      assertEquals(1, first.fitFailed(), first.toString());
      LearnerFailure failure = first.failures().get(0);
      assertTrue(failure.reason().startsWith("update rejected: the aggregator ran out of direct "
          + "memory (Cannot reserve 2400 bytes of direct buffer memory (allocated: 1073741000, "
          + "limit: 1073741824)): "), failure.reason());
      assertTrue(failure.reason().contains("raise -XX:MaxDirectMemorySize"), failure.reason());
      assertEquals(2, result.rounds().get(1).fitSucceeded(), "no slot was leaked");
      assertEquals(0, aggregator.uploadSlots().held(), "every slot given back");
      assertTrue(seconds < 20, "no task waited for the 30 s round timeout: " + seconds + " s");
      // Code OUT_OF_MEMORY: the task has failed, so the learner does not retry the upload as it
      // does a BUSY one of the same status.
      assertTrue(log.text().contains("the aggregator refused the upload: "
          + "RESOURCE_EXHAUSTED: the aggregator ran out of direct memory (Cannot reserve"),
          "the learner was told the real cause:\n" + log.text());
      assertFalse(log.text().contains("the aggregator refused the upload for now"), log.text());
    }
  }
}
