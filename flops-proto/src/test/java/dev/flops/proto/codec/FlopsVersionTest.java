package dev.flops.proto.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code -V} on a main that names {@link FlopsVersion} prints the version Maven filtered in. */
class FlopsVersionTest {

  @Command(name = "some-main", mixinStandardHelpOptions = true,
      versionProvider = FlopsVersion.class)
  static final class SomeMain implements Runnable {
    @Override
    public void run() {}
  }

  @Test
  void version_isTheFilteredProjectVersion() {
    String version = FlopsVersion.version();
    // Maven filtered the placeholder into a release or snapshot version such as 0.1.0-SNAPSHOT.
    assertTrue(version.matches("\\d+\\.\\d+\\.\\d+(-SNAPSHOT)?"), version);
  }

  @Test
  void dashV_printsFlopsAndTheVersion() {
    for (String flag : new String[] {"-V", "--version"}) {
      StringWriter out = new StringWriter();
      CommandLine commandLine = new CommandLine(new SomeMain());
      commandLine.setOut(new PrintWriter(out, true));
      assertEquals(0, commandLine.execute(flag));
      assertEquals("flops " + FlopsVersion.version(), out.toString().strip(), flag);
    }
  }
}
