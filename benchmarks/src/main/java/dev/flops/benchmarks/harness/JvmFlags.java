package dev.flops.benchmarks.harness;

import java.util.ArrayList;
import java.util.List;

/**
 * The JVM flags the harness gives its processes by default, sized from the model's bytes
 * {@code M = 4P}. Flags passed with {@code --aggregator-jvm-opt} / {@code --learner-jvm-opt} come
 * after these, and HotSpot lets the last occurrence of a flag win, so they override.
 *
 * <p>Aggregator: the default collector (G1 on this machine) and {@code -Xmx = 8M + 256 MiB}:
 * room for the global parameters and their wire encoding for the current and the next round (4M)
 * plus a few updates in flight, which is what an aggregator whose memory does not grow with the
 * learner count needs. ND4J's off-heap memory (running sum and staging buffer, 2M, plus a
 * temporary of the largest tensor while dividing) stays under JavaCPP's default caps, which
 * follow {@code -Xmx} (measured with JavaCPP 1.5.7: {@code maxBytes = -Xmx},
 * {@code maxPhysicalBytes = maxBytes + 3 * -Xmx}), so no {@code org.bytedeco.javacpp.*} property
 * is set. The aggregator keeps the JVM's default reaction to an {@code OutOfMemoryError}, so that
 * its stack trace reaches the log; the harness watches the log for one and stops the run.
 *
 * <p>A learner JVM hosting {@code K} learners: {@code -Xmx = K * 5M + 96 MiB}, enough for the
 * at most four model copies a learner holds today (the parameters it fitted on, the download in
 * progress, its update and that update's wire encoding) plus slack; {@code -Xms32m}, so that the
 * heap, and the RSS, grow only as far as they are used; the serial collector (no parallel GC
 * threads, small footprint) up to a 2 GiB heap, above that the default G1, whose humongous
 * regions take model-sized arrays straight into the old generation; C1 only
 * ({@code -XX:TieredStopAtLevel=1}: a learner's loops are simple, and 50 JVMs compiling with C2
 * on 2 cores would slow everything down); 512 KiB thread stacks; and
 * {@code -XX:+ExitOnOutOfMemoryError}, because a learner thread killed by an
 * {@code OutOfMemoryError} would leave its JVM hanging.
 */
final class JvmFlags {
  private static final long MIB = 1L << 20;
  private static final long SERIAL_GC_MAX_HEAP_MIB = 2048;

  private JvmFlags() {}

  static long modelBytes(long params) {
    return Math.multiplyExact(params, 4L);
  }

  static long aggregatorHeapMib(long params) {
    return ceilMib(8 * modelBytes(params)) + 256;
  }

  static long learnerHeapMib(long params, int learnersPerJvm) {
    return ceilMib(Math.multiplyExact(5 * modelBytes(params), (long) learnersPerJvm)) + 96;
  }

  static List<String> aggregator(long params) {
    return List.of("-Xmx" + aggregatorHeapMib(params) + "m");
  }

  static List<String> learner(long params, int learnersPerJvm) {
    long heap = learnerHeapMib(params, learnersPerJvm);
    List<String> flags = new ArrayList<>(List.of("-Xmx" + heap + "m", "-Xms32m"));
    if (heap <= SERIAL_GC_MAX_HEAP_MIB) {
      flags.add("-XX:+UseSerialGC");
    }
    flags.addAll(List.of("-XX:TieredStopAtLevel=1", "-Xss512k", "-XX:+ExitOnOutOfMemoryError"));
    return flags;
  }

  private static long ceilMib(long bytes) {
    return (bytes + MIB - 1) / MIB;
  }
}
