package dev.flops.benchmarks.harness;

import java.util.ArrayList;
import java.util.List;

/**
 * The JVM flags the harness gives its processes by default, sized from the model's bytes
 * {@code M = 4P}. Flags passed with {@code --aggregator-jvm-opt} / {@code --learner-jvm-opt} come
 * after these, and HotSpot lets the last occurrence of a flag win, so they override.
 *
 * <p>Every model-sized buffer lives off-heap, in direct buffers: the synthetic parameters, the
 * updates the aggregator decodes into its {@code k} in-flight slots, its running sum (which becomes
 * the next global model in place) and the learners' downloads and updates. So the heaps stay small
 * and {@code -XX:MaxDirectMemorySize} is the budget that matters: when it is reached the JVM
 * collects unreachable buffers before it fails, which keeps dead model copies from piling up.
 *
 * <p>Aggregator: {@code -Xmx128m} with the serial collector (sessions and gRPC's 1 MiB chunk
 * messages in transit: short-lived garbage that a small young generation collects cheaply) and a
 * direct budget of {@code (3 + k) M + 64 MiB + N × 128 KiB}: the global model, the sum, {@code k}
 * updates, one model of slack for a previous global the collector has not yet freed, netty's
 * buffers for each learner's connection (a 64 KiB flow-control window of a waiting upload, read
 * buffers) and its pooled buffers, kept to one arena ({@code numDirectArenas=1}: the aggregator's traffic is a few large
 * streams, not many small ones). The budget is what bounds dead models: each round leaves the
 * previous global model unreachable, but a direct buffer is freed only when the collector finds
 * its (old-generation) owner dead, which a 128 MiB heap rarely needs to look for; the JVM collects
 * when the budget is reached. With 192 MiB of slack (issue 3's setting) five dead models (200 MB at
 * 10M parameters) piled up before that, and the aggregator's RSS grew over the first 6 rounds and
 * by steps after (benchmarks/README.md, "Issue 13: copies and memory"); netty's pooled buffers
 * (allocated through {@code ByteBuffer.allocateDirect} on Java 17, so in the same budget) need far
 * less than 64 MiB at these learner counts. The {@code N × 128 KiB} is two of the aggregator's
 * fixed 64 KiB stream windows per learner: what a waiting upload may push into netty's buffers,
 * which it keeps in pooled 2 MiB chunks. Measured at N = 1000, P = 100k: the direct memory peaked
 * at 138-152 MiB in every round of 12 against this budget's 191 MiB (benchmarks/README.md, "Issue
 * 13: 1000 learners"; with gRPC's BDP window tuning, before, it grew to 384 MiB by round 7). ND4J only wraps those buffers; JavaCPP's own caps, which follow
 * {@code -Xmx} and count the process's whole RSS, are lifted so that a multi-gigabyte RSS of
 * direct buffers does not trip them. These are the settings measured in benchmarks/README.md.
 *
 * <p>The aggregator's heap is touched in full at start ({@code -Xms128m -XX:+AlwaysPreTouch}), so
 * that its peak RSS measures what the aggregator uses rather than how much of its fixed heap the
 * collector has happened to touch so far: without it the 1000-learner run's RSS grew by up to 76
 * MiB over its first rounds as the old generation filled for the first time, and two runs of the
 * same tree differed by up to 17 MiB at (1M,10) (benchmarks/README.md, "Issue 13: the aggregator's
 * memory over rounds").
 *
 * <p>A learner JVM hosting {@code K} learners: {@code -Xmx = 96 MiB + K * 2 MiB} (the chunk
 * messages in transit) and a direct budget of {@code K * 2M + 256 MiB}: a learner holds the model
 * it fitted on and, while it downloads the next global model or uploads its update, one more
 * (received, working and sending never all live at once with the synthetic trainer, which works
 * on the received copy). Further: {@code -Xms32m}, so that the heap, and the RSS, grow only as
 * far as they are used; the serial collector (no parallel GC threads, small footprint); C1 only
 * ({@code -XX:TieredStopAtLevel=1}: a learner's loops are simple, and 50 JVMs compiling with C2 on
 * 2 cores would slow everything down); 512 KiB thread stacks; and
 * {@code -XX:+ExitOnOutOfMemoryError}, because a learner thread killed by an
 * {@code OutOfMemoryError} would leave its JVM hanging.
 */
final class JvmFlags {
  private static final long MIB = 1L << 20;

  private JvmFlags() {}

  static long modelBytes(long params) {
    return Math.multiplyExact(params, 4L);
  }

  static long aggregatorDirectMib(long params, int maxInFlight, int learners) {
    return ceilMib(Math.multiplyExact(3L + maxInFlight, modelBytes(params))) + 64
        + learners / 8;
  }

  static long learnerHeapMib(int learnersPerJvm) {
    return 96 + 2L * learnersPerJvm;
  }

  static long learnerDirectMib(long params, int learnersPerJvm) {
    return ceilMib(Math.multiplyExact(2 * modelBytes(params), (long) learnersPerJvm)) + 256;
  }

  static List<String> aggregator(long params, int maxInFlight, int learners) {
    return List.of("-Xms128m", "-Xmx128m", "-XX:+AlwaysPreTouch", "-XX:+UseSerialGC",
        "-XX:MaxDirectMemorySize=" + aggregatorDirectMib(params, maxInFlight, learners) + "m",
        "-Dio.grpc.netty.shaded.io.netty.allocator.numDirectArenas=1",
        "-Dorg.bytedeco.javacpp.maxBytes=0", "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0");
  }

  static List<String> learner(long params, int learnersPerJvm) {
    return List.of("-Xmx" + learnerHeapMib(learnersPerJvm) + "m", "-Xms32m",
        "-XX:MaxDirectMemorySize=" + learnerDirectMib(params, learnersPerJvm) + "m",
        "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k", "-XX:+ExitOnOutOfMemoryError");
  }

  private static long ceilMib(long bytes) {
    return (bytes + MIB - 1) / MIB;
  }
}
