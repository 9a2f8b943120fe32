package dev.flops.benchmarks.harness;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * Memory figures from Linux's {@code /proc}: a process's peak and current resident set
 * ({@code VmHWM}, {@code VmRSS} in {@code /proc/<pid>/status}) and the system's
 * {@code MemAvailable} ({@code /proc/meminfo}). {@code VmHWM} is the kernel's own high-water mark
 * of the resident set, so reading it once at the end gives the exact peak.
 */
final class ProcStatus {
  private ProcStatus() {}

  /** Returns the peak resident set of {@code pid} in bytes, or empty if it has exited. */
  static OptionalLong peakRss(long pid) {
    return field(Path.of("/proc", Long.toString(pid), "status"), "VmHWM:");
  }

  /** Returns the current resident set of {@code pid} in bytes, or empty if it has exited. */
  static OptionalLong rss(long pid) {
    return field(Path.of("/proc", Long.toString(pid), "status"), "VmRSS:");
  }

  /** Returns the peak resident set of this process in bytes. */
  static long ownPeakRss() {
    return peakRss(ProcessHandle.current().pid()).orElseThrow(() -> new IllegalStateException(
        "no VmHWM in /proc/self/status: the round harness needs Linux"));
  }

  /** Returns the current resident set of this process in bytes. */
  static long ownRss() {
    return rss(ProcessHandle.current().pid()).orElseThrow(() -> new IllegalStateException(
        "no VmRSS in /proc/self/status: the round harness needs Linux"));
  }

  /** Returns the memory the kernel says is available for new allocations, in bytes. */
  static OptionalLong memAvailable() {
    return field(Path.of("/proc/meminfo"), "MemAvailable:");
  }

  /** Returns the 1-minute load average, or NaN where /proc/loadavg is missing. */
  static double loadAverage() {
    try {
      return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
    } catch (IOException | RuntimeException e) {
      return Double.NaN;
    }
  }

  /** Parses a {@code "Key:   1234 kB"} line of a /proc file. */
  static OptionalLong parseKilobytes(String content, String key) {
    for (String line : content.split("\n")) {
      if (line.startsWith(key)) {
        String[] parts = line.substring(key.length()).trim().split("\\s+");
        long value = Long.parseLong(parts[0]);
        return OptionalLong.of(parts.length > 1 && parts[1].equals("kB") ? value * 1024 : value);
      }
    }
    return OptionalLong.empty();
  }

  private static OptionalLong field(Path file, String key) {
    String content;
    try {
      content = Files.readString(file);
    } catch (NoSuchFileException e) {
      return OptionalLong.empty();
    } catch (IOException e) {
      // A process that exits while we read its status file yields ESRCH.
      if (!Files.exists(file)) {
        return OptionalLong.empty();
      }
      throw new UncheckedIOException(e);
    }
    return parseKilobytes(content, key);
  }
}
