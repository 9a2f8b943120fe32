package dev.flops.aggregator;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

/**
 * A TCP relay on loopback between learners and the aggregator whose connections a test can break
 * the way networks and crashes do: {@link #cut()} resets both sides (a crash, a dropped NAT
 * mapping), {@link #cutLearnerSide()} resets only the learner's side and leaves the aggregator's
 * open and silent (a half-open connection the aggregator does not notice).
 */
final class CuttableProxy implements AutoCloseable {
  private final int targetPort;
  private final ServerSocket server;
  private final List<Link> links = new ArrayList<>();
  /** Aggregator-side sockets of half-open links, closed only with the proxy. */
  private final List<Socket> halfOpen = new ArrayList<>();
  private final Thread acceptor;

  CuttableProxy(int targetPort) throws IOException {
    this.targetPort = targetPort;
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    this.acceptor = new Thread(this::accept, "proxy-accept-" + server.getLocalPort());
    acceptor.setDaemon(true);
    acceptor.start();
  }

  int port() {
    return server.getLocalPort();
  }

  /** Resets every connection on both sides at once. */
  void cut() {
    for (Link link : drain()) {
      link.reset(true);
    }
  }

  /** Resets the learners' side of every connection; the aggregator's side stays open, silent. */
  void cutLearnerSide() {
    for (Link link : drain()) {
      synchronized (this) {
        halfOpen.add(link.upstream);
      }
      link.reset(false);
    }
  }

  private synchronized List<Link> drain() {
    List<Link> current = new ArrayList<>(links);
    links.clear();
    return current;
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket client = server.accept();
        Socket upstream = new Socket(InetAddress.getLoopbackAddress(), targetPort);
        Link link = new Link(client, upstream);
        synchronized (this) {
          links.add(link);
        }
        link.start();
      } catch (IOException e) {
        // Closed, or the aggregator is not listening: the learner sees its connection fail.
      }
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    try {
      acceptor.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    cut();
    List<Socket> open;
    synchronized (this) {
      open = new ArrayList<>(halfOpen);
      halfOpen.clear();
    }
    for (Socket socket : open) {
      socket.close();
    }
  }

  /** One relayed connection: two pump threads. */
  private static final class Link {
    final Socket client;
    final Socket upstream;
    private final Thread up;
    private final Thread down;
    private volatile boolean broken;

    Link(Socket client, Socket upstream) {
      this.client = client;
      this.upstream = upstream;
      this.up = new Thread(() -> pump(client, upstream), "proxy-up");
      this.down = new Thread(() -> pump(upstream, client), "proxy-down");
      up.setDaemon(true);
      down.setDaemon(true);
    }

    void start() {
      up.start();
      down.start();
    }

    private void pump(Socket from, Socket to) {
      byte[] buffer = new byte[64 * 1024];
      try {
        InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream();
        int n;
        while ((n = in.read(buffer)) >= 0) {
          out.write(buffer, 0, n);
        }
      } catch (IOException e) {
        // The other pump or a cut closed a socket.
      }
      if (!broken) {
        // A side closed normally: close the other one too.
        closeQuietly(from);
        closeQuietly(to);
      }
    }

    void reset(boolean upstreamToo) {
      broken = true;
      resetQuietly(client);
      if (upstreamToo) {
        resetQuietly(upstream);
      }
      try {
        up.join(5000);
        if (upstreamToo) {
          down.join(5000);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    private static void resetQuietly(Socket socket) {
      try {
        socket.setSoLinger(true, 0); // close with RST, as a crashed peer's kernel does
        socket.close();
      } catch (IOException e) {
        // Already closed.
      }
    }

    private static void closeQuietly(Socket socket) {
      try {
        socket.close();
      } catch (IOException e) {
        // Already closed.
      }
    }
  }
}
