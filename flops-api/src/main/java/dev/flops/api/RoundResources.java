package dev.flops.api;

/**
 * What one round cost the aggregator: network traffic with the learners and the aggregator
 * process's own resources, measured when the round ended.
 *
 * @param bytesReceived bytes of parameter data received from learners in the round (uploaded
 *     updates, counted as they arrive, including those later rejected)
 * @param bytesSent bytes of parameter data sent to learners in the round (downloads of the global
 *     model for fit and evaluate)
 * @param processCpuSeconds CPU time the aggregator process used during the round, all threads, or
 *     -1 if the JVM does not report it
 * @param heapUsedBytes JVM heap in use at the end of the round
 * @param nonHeapUsedBytes JVM non-heap memory in use (metaspace, code cache) at the end of the round
 * @param offHeapBytes native memory held outside the JVM heap at the end of the round: direct
 *     buffers plus the native allocations of the averaging kernel (ND4J), or -1 if unknown
 */
public record RoundResources(
    long bytesReceived,
    long bytesSent,
    double processCpuSeconds,
    long heapUsedBytes,
    long nonHeapUsedBytes,
    long offHeapBytes) {

  /** Resources of a round that nobody measured: zero traffic, unknown CPU and memory. */
  public static final RoundResources UNKNOWN = new RoundResources(0, 0, -1, -1, -1, -1);

  /**
   * Validates the arguments.
   *
   * @throws IllegalArgumentException if a byte count of traffic is negative
   */
  public RoundResources {
    if (bytesReceived < 0 || bytesSent < 0) {
      throw new IllegalArgumentException("traffic must not be negative: bytesReceived="
          + bytesReceived + ", bytesSent=" + bytesSent);
    }
  }
}
