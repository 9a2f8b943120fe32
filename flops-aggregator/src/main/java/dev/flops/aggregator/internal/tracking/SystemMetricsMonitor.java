package dev.flops.aggregator.internal.tracking;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Samples the machine on a timer and logs it as MLflow's own {@code SystemMetricsMonitor} does:
 * the same names ({@code system/cpu_utilization_percentage}, {@code
 * system/system_memory_usage_megabytes}, {@code system/system_memory_usage_percentage}, {@code
 * system/disk_usage_megabytes}, {@code system/disk_usage_percentage}, {@code
 * system/disk_available_megabytes}, {@code system/network_receive_megabytes}, {@code
 * system/network_transmit_megabytes}), megabytes of 10^6 bytes, network bytes counted from the
 * monitor's start, and step = the sample's index (0, 1, 2, ...), every interval (MLflow's default
 * 10 s). Runs on one daemon thread of its own; a failing sample is skipped, never fatal.
 */
final class SystemMetricsMonitor implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SystemMetricsMonitor.class);
  static final String CPU = "system/cpu_utilization_percentage";
  static final String MEMORY_MB = "system/system_memory_usage_megabytes";
  static final String MEMORY_PERCENT = "system/system_memory_usage_percentage";
  static final String DISK_MB = "system/disk_usage_megabytes";
  static final String DISK_PERCENT = "system/disk_usage_percentage";
  static final String DISK_AVAILABLE_MB = "system/disk_available_megabytes";
  static final String NETWORK_RECEIVE_MB = "system/network_receive_megabytes";
  static final String NETWORK_TRANSMIT_MB = "system/network_transmit_megabytes";

  private final ScheduledExecutorService timer;
  private final long[] networkAtStart;
  private long step;

  private SystemMetricsMonitor(Duration interval, Consumer<List<TrackingStore.MetricPoint>> sink) {
    this.networkAtStart = networkBytes();
    this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread thread = new Thread(r, "flops-system-metrics");
      thread.setDaemon(true);
      return thread;
    });
    timer.scheduleAtFixedRate(() -> {
      try {
        long now = System.currentTimeMillis();
        List<TrackingStore.MetricPoint> points = new ArrayList<>();
        sample().forEach((k, v) -> points.add(new TrackingStore.MetricPoint(k, v, now, step)));
        step++;
        sink.accept(points);
      } catch (RuntimeException e) {
        log.debug("a system metrics sample failed: {}", e.toString());
      }
    }, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Starts sampling every {@code interval}; the first sample comes after one interval. */
  static SystemMetricsMonitor start(Duration interval,
      Consumer<List<TrackingStore.MetricPoint>> sink) {
    return new SystemMetricsMonitor(interval, sink);
  }

  /** One sample, by MLflow's metric names; a figure the platform does not give is left out. */
  Map<String, Double> sample() {
    Map<String, Double> metrics = new LinkedHashMap<>();
    if (ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.OperatingSystemMXBean os) {
      double load = os.getCpuLoad();
      if (load >= 0) {
        metrics.put(CPU, 100 * load);
      }
    }
    long[] memory = memoryTotalAndAvailable();
    if (memory != null && memory[0] > 0) {
      long used = memory[0] - memory[1];
      metrics.put(MEMORY_MB, used / 1e6);
      metrics.put(MEMORY_PERCENT, 100.0 * used / memory[0]);
    }
    try {
      FileStore root = Files.getFileStore(Path.of("/").toAbsolutePath());
      long total = root.getTotalSpace();
      long available = root.getUsableSpace();
      long used = total - root.getUnallocatedSpace();
      if (total > 0) {
        metrics.put(DISK_MB, used / 1e6);
        // psutil's percent: used / (used + available), what MLflow logs.
        metrics.put(DISK_PERCENT, 100.0 * used / Math.max(1, used + available));
        metrics.put(DISK_AVAILABLE_MB, available / 1e6);
      }
    } catch (IOException e) {
      log.debug("no disk figures: {}", e.toString());
    }
    long[] network = networkBytes();
    if (network != null && networkAtStart != null) {
      metrics.put(NETWORK_RECEIVE_MB, (network[0] - networkAtStart[0]) / 1e6);
      metrics.put(NETWORK_TRANSMIT_MB, (network[1] - networkAtStart[1]) / 1e6);
    }
    return metrics;
  }

  /** Total and available memory in bytes: /proc/meminfo's MemAvailable where there is one. */
  private static long[] memoryTotalAndAvailable() {
    try {
      long total = -1;
      long available = -1;
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"), StandardCharsets.UTF_8)) {
        String[] parts = line.split("\\s+");
        if (parts[0].equals("MemTotal:")) {
          total = Long.parseLong(parts[1]) * 1024;
        } else if (parts[0].equals("MemAvailable:")) {
          available = Long.parseLong(parts[1]) * 1024;
        }
      }
      if (total > 0 && available >= 0) {
        return new long[] {total, available};
      }
    } catch (IOException | RuntimeException e) {
      // Not Linux: the JVM's figures below.
    }
    if (ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.OperatingSystemMXBean os) {
      return new long[] {os.getTotalMemorySize(), os.getFreeMemorySize()};
    }
    return null;
  }

  /** Bytes received and sent over every interface since boot, from /proc/net/dev; null elsewhere. */
  private static long[] networkBytes() {
    try {
      long received = 0;
      long sent = 0;
      for (String line : Files.readAllLines(Path.of("/proc/net/dev"), StandardCharsets.UTF_8)) {
        int colon = line.indexOf(':');
        if (colon < 0) {
          continue;
        }
        String[] fields = line.substring(colon + 1).trim().split("\\s+");
        received += Long.parseLong(fields[0]);
        sent += Long.parseLong(fields[8]);
      }
      return new long[] {received, sent};
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
