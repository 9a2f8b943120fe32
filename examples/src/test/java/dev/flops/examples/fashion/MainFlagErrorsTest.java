package dev.flops.examples.fashion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.learner.LearnerMain;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The examples' mains name the flag the user typed when a value is refused, not a builder knob. */
class MainFlagErrorsTest {

  private static String errorOf(Object command, String... args) {
    StringWriter err = new StringWriter();
    CommandLine commandLine = LearnerMain.commandLine(command);
    commandLine.setErr(new PrintWriter(err, true));
    assertEquals(2, commandLine.execute(args), err.toString());
    return err.toString().strip();
  }

  @Test
  void aggregatorMain_minLearnersZero_namesMinLearners() {
    assertEquals("error: --min-learners must be at least 1 but was 0",
        errorOf(new FashionAggregatorMain(System.out), "--no-central-evaluation",
            "--min-learners", "0"));
  }

  @Test
  void aggregatorMain_roundsZero_namesRounds() {
    assertEquals("error: --rounds must be at least 1 but was 0",
        errorOf(new FashionAggregatorMain(System.out), "--no-central-evaluation",
            "--rounds", "0"));
  }

  @Test
  void localFederation_missingDataDir_isABadOptionValue() {
    String error = errorOf(new LocalFederation(System.out), "--data-dir", "/nonexistent",
        "--learners", "2");
    assertTrue(error.startsWith("error: the Fashion-MNIST data directory /nonexistent does not "
        + "exist"), error);
  }
}
