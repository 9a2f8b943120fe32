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

  @Test
  void localFederation_unknownStrategy_listsTheChoices() {
    String error = errorOf(new LocalFederation(System.out), "--strategy", "fedsgd");
    assertTrue(error.startsWith("error: unknown strategy 'fedsgd'; choose one of fedavg"), error);
  }

  @Test
  void aggregatorMain_unknownKnob_namesTheStrategysKnobs() {
    String error = errorOf(new FashionAggregatorMain(System.out), "--no-central-evaluation",
        "--strategy", "fedavg:eta=0.1");
    assertEquals("error: fedavg has no knob 'eta'; it takes none", error);
  }

  @Test
  void localFederation_attackersWithoutAttack_saysWhatToAdd() {
    String error = errorOf(new LocalFederation(System.out), "--learners", "3", "--attackers", "1");
    assertTrue(error.contains("--attackers 1 needs --attack"), error);
    String tooMany = errorOf(new LocalFederation(System.out), "--learners", "3",
        "--attackers", "4", "--attack", "sign-flip:5");
    assertTrue(tooMany.contains("--attackers must be in [0, --learners 3] but was 4"), tooMany);
    String badKind = errorOf(new LocalFederation(System.out), "--learners", "3",
        "--attackers", "1", "--attack", "flip:5");
    assertTrue(badKind.contains("sign-flip:SCALE or noise:SIGMA"), badKind);
  }

  @Test
  void help_listsTheStrategies() {
    StringWriter out = new StringWriter();
    CommandLine commandLine = LearnerMain.commandLine(new LocalFederation(System.out));
    commandLine.setOut(new PrintWriter(out, true));
    assertEquals(0, commandLine.execute("--help"));
    assertTrue(out.toString().contains("Strategies (--strategy NAME:knob=value,...):"), out.toString());
    for (var choice : dev.flops.api.strategy.catalog.StrategyCatalog.choices()) {
      assertTrue(out.toString().contains("  " + choice.name() + " "), choice.name());
    }
  }

  @Test
  void localFederation_krumThatCanNeverCombine_isRefusedBeforeAnythingStarts() {
    String error = errorOf(new LocalFederation(System.out), "--learners", "3",
        "--strategy", "krum:f=1", "--data-dir", "/nonexistent");
    assertEquals("error: krum:f=1 needs more than 2f+2 = 4 updates a round but a round has 3 "
        + "learners: give more learners or a smaller f", error);
  }

  @Test
  void localFederation_aKnobOutOfRange_isRefusedBeforeTheDataLoads() {
    String error = errorOf(new LocalFederation(System.out), "--strategy", "fedadam:eta=0",
        "--data-dir", "/nonexistent");
    assertTrue(error.startsWith("error: fedadam: "), error);
  }
}
