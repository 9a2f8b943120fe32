package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code flush-tracking} without an outbox says there is nothing to deliver, and touches nothing. */
class FlushTrackingCommandTest {

  @Test
  void noOutboxDirectory_saysNothingToDeliver(@TempDir Path dir) {
    Path outbox = dir.resolve("no-outbox");
    StringWriter out = new StringWriter();
    CommandLine commandLine = AggregatorMain.commandLine(new FlushTrackingCommand(Map.of()));
    commandLine.setOut(new PrintWriter(out, true));

    int exit = commandLine.execute("--outbox", outbox.toString(),
        "--tracking-uri", dir.resolve("mlruns").toString());

    assertEquals(0, exit);
    assertEquals("no outbox at " + outbox + ": nothing to deliver", out.toString().strip());
    assertFalse(Files.exists(outbox), "no outbox made");
    assertFalse(Files.exists(dir.resolve("mlruns")), "no store made");
  }
}
