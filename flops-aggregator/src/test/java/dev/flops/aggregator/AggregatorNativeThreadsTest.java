package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.kernel.Nd4jAveraging;
import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.AveragingKernel;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;
import picocli.CommandLine;

/**
 * {@link Aggregator.Builder#nativeThreads}: why it exists (OpenBLAS's idle workers spin between
 * folds) and that {@code start()} applies it.
 */
class AggregatorNativeThreadsTest {

  @Test
  void nativeThreads_outOfRange_isRefusedNamingTheRange() {
    IllegalArgumentException zero = assertThrows(IllegalArgumentException.class,
        () -> Aggregator.builder().nativeThreads(0));
    assertEquals("nativeThreads must be from 1 to 1024 but was 0", zero.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Aggregator.builder().nativeThreads(1025));
  }

  /**
   * With ND4J's default (a thread per core) OpenBLAS's worker spun on {@code sched_yield} for
   * about 0.1 s after every {@code saxpy}, so folding an update every 20 ms kept a core busy:
   * 1080 ms of CPU in 1087 ms here (2 cores). On one thread nothing runs between folds. On a
   * single-core machine OpenBLAS has no worker either way.
   */
  @Test
  void start_appliesNativeThreads_soThatNothingSpinsBetweenFolds() throws Exception {
    Parameters update = direct(1_000_000);
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(update))
        .nativeThreads(1)
        .build()
        .start()) {
      assertEquals(1, Nd4j.factory().blas().getMaxThreads(), "OpenBLAS's threads after start()");

      AveragingKernel kernel = new Nd4jAveraging();
      try (AveragingKernel.WeightedSum warmUp = kernel.begin(update)) {
        warmUp.add(update, 1);
      }
      long cpuBefore = processCpuMillis();
      long start = System.nanoTime();
      try (AveragingKernel.WeightedSum sum = kernel.begin(update)) {
        for (int i = 0; i < 50; i++) {
          sum.add(update, 1);
          Thread.sleep(20);
        }
      }
      long wallMillis = (System.nanoTime() - start) / 1_000_000;
      long cpuMillis = processCpuMillis() - cpuBefore;
      // 50 folds of 4 MB take a few ms each; the JVM's own threads (JIT, GC) add a little
      assertTrue(cpuMillis < 0.4 * wallMillis, "the process used " + cpuMillis + " ms of CPU in "
          + wallMillis + " ms of mostly sleeping: native threads spin between folds");
    }
  }

  @Test
  void option_parsesCountsAndNd4j_andRefusesTheRest() {
    assertEquals(1, AggregatorThreadsOptions.parse("1"));
    assertEquals(0, AggregatorThreadsOptions.parse("nd4j"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> AggregatorThreadsOptions.parse("0"));
    assertEquals("--native-threads must be nd4j or a whole number from 1 to 1024 but was '0'",
        e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> AggregatorThreadsOptions.parse("two"));

    AggregatorThreadsOptions options = new AggregatorThreadsOptions();
    CommandLine command = new CommandLine(options);
    command.parseArgs();
    assertEquals(1, options.nativeThreads, "the default");
    command.parseArgs("--native-threads", "nd4j");
    assertEquals(0, options.nativeThreads);
    CommandLine.ParameterException usage = assertThrows(CommandLine.ParameterException.class,
        () -> new CommandLine(new AggregatorThreadsOptions()).parseArgs("--native-threads", "two"));
    assertTrue(usage.getMessage().contains(
        "--native-threads must be nd4j or a whole number from 1 to 1024 but was 'two'"),
        usage::getMessage);
  }

  private static Parameters direct(int p) {
    ByteBuffer data = ByteBuffer.allocateDirect(4 * p).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < p; i++) {
      data.putFloat(i * 4, (i % 100) * 1e-3f);
    }
    return Parameters.of(new Tensor("w", DType.FLOAT32, new long[] {p}, data));
  }

  /** utime + stime of this process, from {@code /proc/self/stat} (Linux, 100 ticks a second). */
  private static long processCpuMillis() throws IOException {
    String stat = Files.readString(Path.of("/proc/self/stat"));
    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) * 10;
  }
}
