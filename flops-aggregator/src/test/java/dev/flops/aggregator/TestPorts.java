package dev.flops.aggregator;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A port for a test to hand to something that binds or connects to it later (a child process, an
 * aggregator, a learner), or to use as a port where nothing listens.
 *
 * <p>Not a port from a closed {@code new ServerSocket(0)}: that port comes from the kernel's
 * ephemeral range ({@code /proc/sys/net/ipv4/ip_local_port_range}), and once it is closed the
 * kernel may give it again to any outgoing connection (connect() picks its local port from that
 * range) or to another port-0 listener, so the later bind fails with "Address already in use" or
 * the port that should refuse connections accepts them. The kernel gives out no port below the
 * range by itself, so a port from below it stays free until something binds that very port on
 * purpose: a service with a fixed port, or another test, here or in another JVM, that drew the
 * same number. Hence a random port in [10000, low end of the range), checked free (bound and
 * closed) on 127.0.0.1 and on the wildcard address, which the aggregators bind by default, and
 * never given twice in one JVM, so a test that needs two ports gets two. Nothing holds the port
 * after this returns.
 */
public final class TestPorts {
  private static final int LOWEST = 10_000;
  private static final int TRIES = 100;
  private static final Set<Integer> GIVEN = new HashSet<>();

  private TestPorts() {}

  /**
   * Returns a port below the ephemeral range, free on 127.0.0.1 and on the wildcard address.
   *
   * @return the port
   * @throws IllegalStateException if none of 100 random draws gave a port that is free and not
   *     given out before by this JVM
   */
  public static synchronized int unusedPort() {
    int end = ephemeralLow();
    if (end < LOWEST + 2_000) {
      // Too few ports below this machine's ephemeral range to draw from: a released port-0 port,
      // with the race described above, is the lesser evil.
      try (ServerSocket socket = new ServerSocket(0)) {
        return socket.getLocalPort();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    IOException last = null;
    for (int i = 0; i < TRIES; i++) {
      int port = ThreadLocalRandom.current().nextInt(LOWEST, end);
      if (GIVEN.contains(port)) {
        continue;
      }
      try {
        for (InetAddress address : new InetAddress[] {InetAddress.getByName("127.0.0.1"), null}) {
          try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(false);
            socket.bind(new InetSocketAddress(address, port)); // null: the wildcard address
          }
        }
        GIVEN.add(port);
        return port;
      } catch (IOException e) {
        last = e;
      }
    }
    throw new IllegalStateException(String.format("no free port among %d random ones in [%d, %d) "
        + "(last: %s); see what listens there with 'ss -tan'", TRIES, LOWEST, end, last));
  }

  private static int ephemeralLow() {
    // One read call: a sysctl file read in pieces ends after the first (Files.readString reads
    // one byte, then nothing: "3"); a BufferedReader asks for 8192 bytes at once.
    try (var reader = Files.newBufferedReader(Path.of("/proc/sys/net/ipv4/ip_local_port_range"))) {
      String[] lowHigh = reader.readLine().strip().split("\\s+");
      if (lowHigh.length == 2) {
        return Integer.parseInt(lowHigh[0]);
      }
    } catch (IOException | RuntimeException e) {
      // not Linux, or not readable here: Linux's default below
    }
    return 32768;
  }
}
