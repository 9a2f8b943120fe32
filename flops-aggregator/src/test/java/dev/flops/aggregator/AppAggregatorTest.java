package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Evaluation;
import dev.flops.api.FederatedModel;
import dev.flops.api.LocalTrainer;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrackingInfo;
import dev.flops.api.TrainingResult;
import dev.flops.api.app.FederatedApp;
import dev.flops.api.app.FederatedAppException;
import dev.flops.api.app.FederatedApps;
import dev.flops.api.app.LearnerContext;
import dev.flops.api.app.LoadedApp;
import dev.flops.api.strategy.FedAvg;
import dev.flops.api.strategy.Strategy;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code AggregatorMain --app}: the plan is flops's defaults, then the app's {@link AppPlan}, then
 * the options typed on the command line (defaults of options the user did not type override
 * nothing). The app jars are built here: a service file naming a class of these tests.
 */
class AppAggregatorTest {
  @TempDir Path dir;

  /** An app without a plan of its own. */
  public static class TestApp implements FederatedApp {
    @Override
    public String name() {
      return "test-app";
    }

    @Override
    public FederatedModel newModel() {
      throw new UnsupportedOperationException("the plan tests never make a model");
    }

    @Override
    public LocalTrainer newTrainer(LearnerContext context) {
      throw new UnsupportedOperationException("an aggregator never makes a trainer");
    }

    @Override
    public Strategy strategy() {
      return FedAvg.withDefaults();
    }
  }

  /** An app whose plan sets rounds, learners, a timeout and checkpoints, as a user's might. */
  public static class PlannedApp extends TestApp implements AppPlan {
    @Override
    public String name() {
      return "planned";
    }

    @Override
    public TrainingPlan.Builder plan(TrainingPlan.Builder defaults) {
      return defaults.rounds(7).minAvailableLearners(4).roundTimeout(Duration.ofSeconds(90))
          .checkpointDirectory(Path.of("app-checkpoints")).resume(true);
    }
  }

  /** An app with a model, for a run of the main. */
  public static class ModelApp extends PlannedApp {
    @Override
    public FederatedModel newModel() {
      return new ArrayModel(Federations.randomParameters(1, false));
    }
  }

  /** An app whose plan is invalid. */
  public static class BadPlanApp extends PlannedApp {
    @Override
    public TrainingPlan.Builder plan(TrainingPlan.Builder defaults) {
      return defaults.rounds(0);
    }
  }

  @Test
  void appPlan_isTheDefault_withTheAppsNameAsRunName() throws IOException {
    TrainingPlan plan = plan(PlannedApp.class);

    assertEquals(7, plan.rounds());
    assertEquals(4, plan.minAvailableLearners());
    assertEquals(Duration.ofSeconds(90), plan.roundTimeout());
    assertTrue(plan.resume());
    assertEquals(Path.of("app-checkpoints"), plan.checkpointDirectory().orElseThrow());
    assertEquals("planned", plan.name());
    assertEquals(1, plan.minFitResults(), "flops's default where neither sets it");
  }

  @Test
  void typedOptions_overrideTheAppsPlan_untypedOnesDoNot() throws IOException {
    TrainingPlan plan = plan(PlannedApp.class, "--rounds", "2", "--min-fit", "3",
        "--checkpoint-dir", dir.resolve("ckpt").toString());

    assertEquals(2, plan.rounds());
    assertEquals(3, plan.minFitResults());
    assertEquals(dir.resolve("ckpt"), plan.checkpointDirectory().orElseThrow());
    // Not typed: the app's values stay, although the options have defaults of their own.
    assertEquals(4, plan.minAvailableLearners());
    assertEquals(Duration.ofSeconds(90), plan.roundTimeout());
    assertTrue(plan.resume(), "--resume not typed: the app's resume stays");
  }

  @Test
  void noAppPlan_flopsDefaults() throws IOException {
    TrainingPlan plan = plan(TestApp.class, "--min-available", "2");

    assertEquals(TrainingPlan.DEFAULT_ROUNDS, plan.rounds());
    assertEquals(2, plan.minAvailableLearners());
    assertFalse(plan.resume());
    assertEquals("test-app", plan.name());
  }

  @Test
  void anInvalidAppPlan_namesTheAppsMethodAndTheCause() {
    FederatedAppException e =
        assertThrows(FederatedAppException.class, () -> plan(BadPlanApp.class));

    assertTrue(e.getMessage().startsWith(BadPlanApp.class.getName() + ".plan(...) threw"),
        e.getMessage());
    assertTrue(e.getMessage().contains("rounds must be at least 1 but was 0"), e.getMessage());
  }

  @Test
  void fedAvgOptionsAndModelFactory_areRefusedWithAnApp() throws IOException {
    Path jar = jar(PlannedApp.class);

    Run fraction = run("--app", jar.toString(), "--fit-config", "local_epochs=2");
    Run factory = run("--app", jar.toString(), "--model-factory", "com.example.ModelFactory");
    Run neither = run("--rounds", "2");

    assertEquals(2, fraction.exitCode);
    assertTrue(fraction.err.startsWith("error: --fit-config configures the FedAvg that "
        + "--model-factory runs; with --app the strategy is the app's own"), fraction.err);
    assertEquals(2, factory.exitCode);
    assertTrue(factory.err.startsWith("error: --app and --model-factory both given"), factory.err);
    assertEquals(2, neither.exitCode);
    assertTrue(neither.err.startsWith("error: give --app JAR"), neither.err);
  }

  @Test
  void theMain_namesItsFederationAfterTheApp_andFailsWithoutLearners() throws Exception {
    List<String> events = new CopyOnWriteArrayList<>();
    HttpServer receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    receiver.createContext("/events", exchange -> {
      events.add(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
      exchange.sendResponseHeaders(204, -1);
      exchange.close();
    });
    receiver.start();
    try {
      Run run = run("--app", jar(ModelApp.class).toString(), "--host", "127.0.0.1",
          "--port", "0", "--no-tracking", "--learner-wait", "1",
          "--checkpoint-dir", dir.resolve("ckpt").toString(), "--notify-url",
          "http://127.0.0.1:" + receiver.getAddress().getPort() + "/events");

      assertEquals(1, run.exitCode, run.err);
    } finally {
      receiver.stop(0);
    }
    assertEquals(List.of("training_started", "training_failed"), events.stream()
        .map(e -> JsonParser.parseString(e).getAsJsonObject().get("event").getAsString())
        .toList());
    for (String event : events) {
      assertEquals("planned", JsonParser.parseString(event).getAsJsonObject()
          .get("federation").getAsString(), event);
    }
  }

  @Test
  void missingAppJar_exits2NamingIt() {
    Path missing = dir.resolve("missing.jar");

    Run run = run("--app", missing.toString());

    assertEquals(2, run.exitCode);
    assertTrue(run.err.startsWith("error: app jar " + missing + " does not exist"), run.err);
  }

  private TrainingPlan plan(Class<? extends FederatedApp> app, String... options)
      throws IOException {
    LoadedApp loaded = FederatedApps.load(jar(app));
    AggregatorMain main = new AggregatorMain();
    CommandLine commandLine = AggregatorMain.commandLine(main);
    String[] args = new String[options.length + 2];
    args[0] = "--app";
    args[1] = loaded.jar().toString();
    System.arraycopy(options, 0, args, 2, options.length);
    commandLine.parseArgs(args);
    return AppAggregator.plan(loaded, main, commandLine.getParseResult()).build();
  }

  private Path jar(Class<?> app) throws IOException {
    Path jar = dir.resolve(app.getSimpleName() + ".jar");
    try (OutputStream out = Files.newOutputStream(jar);
        JarOutputStream zip = new JarOutputStream(out)) {
      zip.putNextEntry(new JarEntry(FederatedApps.SERVICE_FILE));
      zip.write((app.getName() + "\n").getBytes(StandardCharsets.UTF_8));
      zip.closeEntry();
    }
    return jar;
  }

  private record Run(int exitCode, String err) {}

  private static Run run(String... args) {
    StringWriter err = new StringWriter();
    CommandLine commandLine = AggregatorMain.commandLine(new AggregatorMain());
    commandLine.setErr(new PrintWriter(err, true));
    int exitCode = commandLine.execute(args);
    return new Run(exitCode, err.toString());
  }

  @Test
  void printTable_endsWithWhereTheTrainingWasTracked() {
    RoundSummary round = new RoundSummary(1, 2, 0, 2, 0, new Evaluation(0.5, 20, 2,
        java.util.Map.of("accuracy", 0.75)), Duration.ofSeconds(1), List.of());
    TrainingResult result = new TrainingResult(List.of(round), round,
        Federations.randomParameters(1, false), Duration.ofSeconds(2),
        new TrackingInfo("file:///tmp/mlruns", "7", "parent", "best", List.of()));
    StringWriter out = new StringWriter();

    AppAggregator.printTable(new PrintWriter(out), "my-app", result);

    assertEquals(List.of("my-app: 1 round(s)",
        "round 1  learners 2/2  loss 0.5000  accuracy 0.7500",
        "best round 1",
        "tracked in MLflow at file:///tmp/mlruns: experiment 7, parent run parent, best round's "
            + "run best",
        "view it: MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri file:///tmp/mlruns"),
        out.toString().lines().toList());
  }
}
