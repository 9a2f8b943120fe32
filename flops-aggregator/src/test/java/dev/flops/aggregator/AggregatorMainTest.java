package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Config;
import dev.flops.api.FederatedModel;
import dev.flops.api.Parameters;
import dev.flops.api.RoundRanking;
import dev.flops.proto.codec.FlopsVersion;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The aggregator's command line: bad knobs and factories end with one clear line, exit code 2. */
class AggregatorMainTest {

  /** A model factory for the command line, as a user's would be. */
  public static final class SmallModelFactory implements Supplier<FederatedModel> {
    @Override
    public FederatedModel get() {
      return new ArrayModel(Federations.randomParameters(1, false));
    }
  }

  @Test
  void roundsBelowOne_exitsWithMessageNamingKnobAndValue() {
    Run run = run("--model-factory", SmallModelFactory.class.getName(), "--rounds", "0");
    assertEquals(2, run.exitCode);
    assertEquals("error: --rounds must be at least 1 but was 0", run.err.strip());
  }

  @Test
  void fractionOutsideRange_exitsWithMessageNamingKnobAndValue() {
    Run run = run("--model-factory", SmallModelFactory.class.getName(), "--fraction-fit", "1.5");
    assertEquals(2, run.exitCode);
    assertTrue(run.err.contains("--fraction-fit must be in (0, 1] but was 1.5"), run.err);
  }

  @Test
  void inconsistentMinimums_exitWithMessageNamingBothKnobs() {
    Run run = run("--model-factory", SmallModelFactory.class.getName(), "--min-fit", "4",
        "--min-available", "2");
    assertEquals(2, run.exitCode);
    assertTrue(run.err.contains("--min-fit (4) exceeds --min-available (2): a round could "
        + "start without enough learners to fit; raise --min-available to at least 4"), run.err);
  }

  @Test
  void minFitAboveMinAvailable_namesTheFlagsTyped_notTheBuilderKnobs() {
    Run run = run("--model-factory", SmallModelFactory.class.getName(), "--min-fit", "3");
    assertEquals(2, run.exitCode);
    assertEquals("error: --min-fit (3) exceeds --min-available (1): a round could start without "
        + "enough learners to fit; raise --min-available to at least 3", run.err.strip());
  }

  @Test
  void nonPositiveTimeouts_nameTheFlags() {
    Run run = run("--model-factory", SmallModelFactory.class.getName(), "--learner-wait", "0");
    assertEquals(2, run.exitCode);
    assertEquals("error: --learner-wait must be positive but was 0 ms", run.err.strip());
  }

  @Test
  void unknownFactoryClass_saysItIsNotOnTheClasspath() {
    Run run = run("--model-factory", "com.example.Missing");
    assertEquals(2, run.exitCode);
    assertEquals("error: class com.example.Missing is not on the classpath", run.err.strip());
  }

  @Test
  void factoryOfWrongType_saysWhatToImplement() {
    Run run = run("--model-factory", String.class.getName());
    assertEquals(2, run.exitCode);
    assertTrue(run.err.contains("must implement java.util.function.Supplier<FederatedModel>"),
        run.err);
  }

  @Test
  void resumeWithoutCheckpointDirectory_saysWhatItNeeds() {
    Run run = run("--model-factory", SmallModelFactory.class.getName(), "--resume");
    assertEquals(2, run.exitCode);
    assertTrue(run.err.contains("--resume needs --checkpoint-dir"), run.err);
  }

  @Test
  void maxRoundAttemptsWithFail_exitsNamingTheConflict() {
    Run run = run("--model-factory", SmallModelFactory.class.getName(),
        "--on-insufficient-results", "FAIL", "--max-round-attempts", "4");
    assertEquals(2, run.exitCode);
    assertTrue(run.err.contains("--max-round-attempts (4) conflicts with "
        + "--on-insufficient-results FAIL, which never retries; use --on-insufficient-results "
        + "RETRY or drop --max-round-attempts"), run.err);
  }

  @Test
  void checkpointDirectoryHoldingACheckpoint_withoutResume_refusesToOverwriteIt(
      @TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("flops-checkpoint.bin"), "an earlier run's checkpoint");
    Run run = run("--model-factory", SmallModelFactory.class.getName(), "--host", "127.0.0.1",
        "--port", "0", "--checkpoint-dir", dir.toString());
    assertEquals(2, run.exitCode);
    assertTrue(run.err.contains("already holds a checkpoint"), run.err);
    assertTrue(run.err.contains("--resume"), run.err);
  }

  @Test
  void resumeFromAFileThatIsNotACheckpoint_exitsNamingTheFile(@TempDir Path dir)
      throws Exception {
    Files.writeString(dir.resolve("flops-checkpoint.bin"), "not a checkpoint at all, truly");
    Run run = run("--model-factory", SmallModelFactory.class.getName(), "--host", "127.0.0.1",
        "--port", "0", "--checkpoint-dir", dir.toString(), "--resume");
    assertEquals(1, run.exitCode);
    assertTrue(run.err.contains("flops-checkpoint.bin is not a flops checkpoint"), run.err);
  }

  @Test
  void fitConfigEntries_becomeTypedScalars() {
    Map<String, String> entries = new LinkedHashMap<>();
    entries.put("local_epochs", "2");
    entries.put("learning_rate", "0.01");
    entries.put("shuffle", "true");
    entries.put("optimizer", "adam");
    Config config = AggregatorMain.parseConfig(entries);
    assertEquals(2L, config.values().get("local_epochs"));
    assertEquals(0.01, config.values().get("learning_rate"));
    assertEquals(true, config.values().get("shuffle"));
    assertEquals("adam", config.values().get("optimizer"));
  }

  @Test
  void bestMetricWithoutKnownDirection_exitsAskingForTheMode() {
    Run run = run("--model-factory", SmallModelFactory.class.getName(), "--best-metric", "mse");
    assertEquals(2, run.exitCode);
    assertTrue(run.err.contains("--best-metric mse needs --best-mode max"), run.err);
  }

  @Test
  void bestModeWithoutMetric_exitsNamingWhatIsMissing() {
    Run run = run("--model-factory", SmallModelFactory.class.getName(), "--best-mode", "min");
    assertEquals(2, run.exitCode);
    assertTrue(run.err.contains("--best-mode min needs --best-metric"), run.err);
  }

  @Test
  void bestMetricWithAnInvalidName_exitsNamingIt() {
    Run run = run("--model-factory", SmallModelFactory.class.getName(), "--best-metric", "../x",
        "--best-mode", "min");
    assertEquals(2, run.exitCode);
    assertTrue(run.err.contains("the best-round metric is invalid: metric name '../x'"), run.err);
  }

  @Test
  void bestRoundOptions_resolveToARanking() {
    assertEquals(RoundRanking.defaults(), BestRoundOptions.ranking(null, null));
    assertEquals(RoundRanking.minimize("loss"), BestRoundOptions.ranking("loss", null));
    assertEquals(RoundRanking.maximize("accuracy"), BestRoundOptions.ranking("accuracy", null));
    assertEquals(RoundRanking.minimize("mse"), BestRoundOptions.ranking("mse", "min"));
    assertEquals(RoundRanking.maximize("f1"), BestRoundOptions.ranking("f1", "MAX"));
  }

  @Test
  void bestModeOtherThanMaxOrMin_exitsNamingIt() {
    Run run = run("--model-factory", SmallModelFactory.class.getName(), "--best-metric", "mse",
        "--best-mode", "lowest");
    assertEquals(2, run.exitCode);
    assertTrue(run.err.contains("--best-mode must be max (higher is better) or min"), run.err);
    assertTrue(run.err.contains("'lowest'"), run.err);
  }

  @Test
  void trackingOptions_sameAsTheExamplesMains(@TempDir Path dir) {
    AggregatorMain main = new AggregatorMain();
    new CommandLine(main).parseArgs("--model-factory", SmallModelFactory.class.getName(),
        "--tracking-uri", dir.resolve("runs").toString(), "--experiment", "regression");
    assertEquals("regression", main.tracking.tracking().experimentName().orElseThrow());
    assertTrue(main.tracking.tracking().trackingUri().endsWith("/runs"),
        main.tracking.tracking().trackingUri());

    AggregatorMain untracked = new AggregatorMain();
    new CommandLine(untracked).parseArgs("--model-factory", SmallModelFactory.class.getName(),
        "--no-tracking");
    assertTrue(!untracked.tracking.tracking().enabled());

    AggregatorMain defaults = new AggregatorMain();
    new CommandLine(defaults).parseArgs("--model-factory", SmallModelFactory.class.getName());
    assertTrue(defaults.tracking.tracking().experimentName().isEmpty(),
        "without --experiment the aggregator names it after the model (flops-<model class>)");
  }

  @Test
  void eventLogInADirectoryThatCannotBeMade_exitsNamingTheFile(@TempDir Path dir)
      throws Exception {
    Path blocker = Files.writeString(dir.resolve("a-file"), "not a directory");
    Run run = run("--model-factory", SmallModelFactory.class.getName(), "--no-tracking",
        "--event-log", blocker.resolve("events.jsonl").toString());
    assertEquals(2, run.exitCode);
    assertTrue(run.err.contains("cannot open the event log"), run.err);
  }

  /**
   * {@code --reproducible} turns on the exact kernel: an update with a value beyond its range
   * (which the native kernel would fold) is refused, naming the value and the range.
   */
  @Test
  void reproducible_averagesExactly_refusingAValueBeyondTheExactRange() throws Exception {
    int port = TestPorts.unusedPort();
    Parameters initial = new SmallModelFactory().get().getParameters();
    Federations.startLearner("honest", port, FakeTrainer.adding(initial, 0.5f, 10));
    Federations.startLearner("huge", port, FakeTrainer.adding(initial, 6e6f, 10));
    try (LogCapture log = new LogCapture()) {
      Run run = run("--model-factory", SmallModelFactory.class.getName(), "--host", "127.0.0.1",
          "--port", String.valueOf(port), "--rounds", "1", "--min-available", "2",
          "--no-tracking", "--reproducible");
      assertEquals(0, run.exitCode, run.err);
      assertTrue(log.text().contains("outside the range the exact averaging kernel sums, "
          + "|x| < 4194304.0 (2^22)"), log.text());
    }
  }

  @Test
  void help_listsTheExitCodes() {
    String help = standardOutput("--help");
    assertTrue(help.contains("Exit codes:"), help);
    for (String code : new String[] {"0", "1", "2", "130", "143"}) {
      assertTrue(help.lines().anyMatch(l -> l.strip().startsWith(code + " ")), code + ": " + help);
    }
    assertTrue(help.contains("could not resume"), help);
  }

  @Test
  void version_printsFlopsAndTheProjectVersion() {
    assertEquals("flops " + FlopsVersion.version(), standardOutput("-V").strip());
  }

  /** Runs an option that prints to standard output (help, version) and succeeds. */
  private static String standardOutput(String option) {
    StringWriter out = new StringWriter();
    CommandLine commandLine = AggregatorMain.commandLine(new AggregatorMain());
    commandLine.setOut(new PrintWriter(out, true));
    assertEquals(0, commandLine.execute(option));
    return out.toString();
  }

  private record Run(int exitCode, String err) {}

  private static Run run(String... args) {
    StringWriter err = new StringWriter();
    CommandLine commandLine = AggregatorMain.commandLine(new AggregatorMain());
    commandLine.setErr(new PrintWriter(err, true));
    int exit = commandLine.execute(args);
    return new Run(exit, err.toString());
  }
}
