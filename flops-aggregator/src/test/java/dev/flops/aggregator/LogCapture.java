package dev.flops.aggregator;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Captures everything the process logs while open: standard error and output (where the slf4j
 * binding of the tests, slf4j-simple, writes) and java.util.logging (where gRPC and Netty log),
 * still passing it all through.
 */
final class LogCapture implements AutoCloseable {
  private final ByteArrayOutputStream captured = new ByteArrayOutputStream();
  private final PrintStream originalErr = System.err;
  private final PrintStream originalOut = System.out;
  private final Logger julRoot = Logger.getLogger("");
  private final Handler julHandler = new Handler() {
    @Override
    public void publish(LogRecord record) {
      StringBuilder line = new StringBuilder(record.getLevel() + " " + record.getLoggerName()
          + " " + record.getMessage());
      if (record.getParameters() != null) {
        for (Object parameter : record.getParameters()) {
          line.append(' ').append(parameter);
        }
      }
      for (Throwable t = record.getThrown(); t != null; t = t.getCause()) {
        line.append(' ').append(t);
      }
      write(line.append('\n').toString());
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  };

  LogCapture() {
    System.setErr(tee(originalErr));
    System.setOut(tee(originalOut));
    julHandler.setLevel(Level.ALL);
    julRoot.addHandler(julHandler);
  }

  private PrintStream tee(PrintStream original) {
    return new PrintStream(new OutputStream() {
      @Override
      public void write(int b) {
        synchronized (captured) {
          captured.write(b);
        }
        original.write(b);
      }

      @Override
      public void write(byte[] b, int off, int len) {
        synchronized (captured) {
          captured.write(b, off, len);
        }
        original.write(b, off, len);
      }
    }, true, StandardCharsets.UTF_8);
  }

  private void write(String text) {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    synchronized (captured) {
      captured.write(bytes, 0, bytes.length);
    }
  }

  /** Everything captured so far. */
  String text() {
    synchronized (captured) {
      return captured.toString(StandardCharsets.UTF_8);
    }
  }

  @Override
  public void close() {
    System.setErr(originalErr);
    System.setOut(originalOut);
    julRoot.removeHandler(julHandler);
  }
}
