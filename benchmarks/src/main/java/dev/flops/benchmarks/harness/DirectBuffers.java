package dev.flops.benchmarks.harness;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Who holds the aggregator's direct memory at the end of a round, for the harness's round lines:
 * the JVM's direct buffer pool ({@code BufferPoolMXBean "direct"}: every
 * {@code ByteBuffer.allocateDirect}, netty's pooled chunks included on Java 17) and, inside it,
 * what gRPC's own netty allocator holds ({@code PooledByteBufAllocatorMetric}: chunks reserved by
 * its arenas and per-thread caches). The difference is what the aggregator itself holds: global
 * models, the sum, upload slots.
 */
final class DirectBuffers {
  private static final double MIB = 1 << 20;

  private DirectBuffers() {}

  private static final BufferPoolMXBean DIRECT =
      ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
          .filter(pool -> pool.getName().equals("direct")).findFirst().orElse(null);
  private static final java.util.concurrent.atomic.AtomicLong PEAK =
      new java.util.concurrent.atomic.AtomicLong();

  /** Samples the direct pool every 10 ms so that a round's peak, not only its end, is seen. */
  static void startSampling() {
    Thread sampler = new Thread(() -> {
      while (true) {
        PEAK.accumulateAndGet(DIRECT.getMemoryUsed(), Math::max);
        try {
          Thread.sleep(10);
        } catch (InterruptedException e) {
          return;
        }
      }
    }, "direct-sampler");
    sampler.setDaemon(true);
    sampler.start();
  }

  /** Returns {@code direct_mb}, {@code direct_buffers} and, where readable, {@code netty_mb}. */
  static Map<String, Object> snapshot() {
    Map<String, Object> fields = new LinkedHashMap<>();
    fields.put("direct_peak_mb", round(PEAK.getAndSet(0) / MIB));
    for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
      if (pool.getName().equals("direct")) {
        fields.put("direct_mb", round(pool.getMemoryUsed() / MIB));
        fields.put("direct_buffers", pool.getCount());
      }
    }
    long netty = NettyAllocator.usedDirectMemory();
    if (netty >= 0) {
      fields.put("netty_mb", round(netty / MIB));
    }
    return fields;
  }

  private static double round(double value) {
    return Math.round(value * 10) / 10.0;
  }

  /**
   * gRPC's netty allocator is reached through its package-private {@code Utils}: the harness
   * only reads a metric, and a gRPC that moves it leaves the field out rather than failing.
   */
  private static final class NettyAllocator {
    private static final Object METRIC = find();

    static long usedDirectMemory() {
      if (METRIC == null) {
        return -1;
      }
      try {
        return (long) METRIC.getClass().getMethod("usedDirectMemory").invoke(METRIC);
      } catch (ReflectiveOperationException | RuntimeException e) {
        return -1;
      }
    }

    private static Object find() {
      try {
        Class<?> utils = Class.forName("io.grpc.netty.shaded.io.grpc.netty.Utils");
        var get = utils.getDeclaredMethod("getByteBufAllocator", boolean.class);
        get.setAccessible(true);
        Object allocator = get.invoke(null, false);
        var metric = allocator.getClass().getMethod("metric");
        metric.setAccessible(true);
        return metric.invoke(allocator);
      } catch (ReflectiveOperationException | RuntimeException e) {
        return null;
      }
    }
  }
}
