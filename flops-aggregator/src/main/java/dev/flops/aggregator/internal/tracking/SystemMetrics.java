package dev.flops.aggregator.internal.tracking;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;

/**
 * Samples the aggregator process: CPU time, heap, non-heap and off-heap memory. Off-heap is the
 * JVM's direct and mapped buffers plus, when the ND4J kernel is in use, what JavaCPP allocated
 * natively for ND4J ({@code Pointer.totalBytes()}).
 */
public final class SystemMetrics {
  private final boolean nd4j;

  /**
   * @param nd4j whether ND4J is in use, so that JavaCPP's native allocations can be read without
   *     loading ND4J just for that
   */
  public SystemMetrics(boolean nd4j) {
    this.nd4j = nd4j;
  }

  /** CPU time of the whole process in seconds, or -1 if the JVM does not report it. */
  public double processCpuSeconds() {
    if (ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.OperatingSystemMXBean os) {
      long nanos = os.getProcessCpuTime();
      return nanos < 0 ? -1 : nanos / 1e9;
    }
    return -1;
  }

  public long heapUsedBytes() {
    return memory().getHeapMemoryUsage().getUsed();
  }

  public long nonHeapUsedBytes() {
    return memory().getNonHeapMemoryUsage().getUsed();
  }

  /** Direct and mapped buffers, plus ND4J's native memory when ND4J is in use. */
  public long offHeapBytes() {
    long total = 0;
    for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
      total += Math.max(0, pool.getMemoryUsed());
    }
    if (nd4j) {
      try {
        total += org.bytedeco.javacpp.Pointer.totalBytes();
      } catch (LinkageError e) {
        // JavaCPP absent: the buffers alone.
      }
    }
    return total;
  }

  private static MemoryMXBean memory() {
    return ManagementFactory.getMemoryMXBean();
  }
}
