package dev.flops.examples.fashion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.AggregatorMain;
import dev.flops.aggregator.TestPorts;
import dev.flops.learner.LearnerMain;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Fashion app run by the generic mains as a user runs them, each its own JVM: one
 * {@link AggregatorMain} {@code --app} and two {@link LearnerMain} {@code --app} processes, on the
 * embedded 12k/2k subset written to a data directory. The app's jar is built here from this
 * module's compiled classes (what {@code mvn package} puts in the examples jar: the classes and
 * the service file), because the test phase runs before packaging.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class FashionAppProcessesTest {

  @Test
  void genericMains_runTheFashionApp_appPlanWithCommandLineOverrides(@TempDir Path dir)
      throws Exception {
    Path jar = appJar(dir);
    Path data = subset(dir.resolve("data"));
    int port = TestPorts.unusedPort();
    // The app's plan says 3 rounds once 3 learners are connected; --min-available overrides the
    // learners (2 run here), the rounds stay the app's.
    Process aggregator = java(dir, "aggregator", Map.of(FashionApp.DATA_ENV, data.toString()),
        AggregatorMain.class, "--app", jar.toString(), "--host", "127.0.0.1",
        "--port", String.valueOf(port), "--min-available", "2", "--learner-wait", "120",
        "--tracking-uri", dir.resolve("mlruns").toString());
    List<Process> learners = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      learners.add(java(dir, "learner-" + i, Map.of(), LearnerMain.class,
          "--app", jar.toString(), "--aggregator", "127.0.0.1:" + port,
          "--data", data.toString(), "--data-tags", "iid,train-limit=1200,test-limit=400",
          "--index", String.valueOf(i), "--learners", "2", "--native-threads", "1"));
    }

    assertTrue(aggregator.waitFor(4, TimeUnit.MINUTES), "aggregator exits");
    String aggregatorLog = Files.readString(dir.resolve("aggregator.log"));
    assertEquals(0, aggregator.exitValue(), aggregatorLog);
    assertTrue(aggregatorLog.contains("central evaluation on the 2000 test images at " + data
        + " (the aggregator's own: set " + FashionApp.DATA_ENV + " to choose them)"),
        aggregatorLog);
    // The results' line (a log line would start with the logger's prefix, and names no best run).
    assertTrue(aggregatorLog.lines().anyMatch(l -> l.startsWith("tracked in MLflow at file:")
        && l.contains("best round's run")), aggregatorLog);
    assertTrue(aggregatorLog.contains("app " + FashionApp.class.getName() + " from " + jar
        + ": 3 rounds, 2 learners needed, strategy FedAvg"), aggregatorLog);
    // The results table on standard output: every round had both learners and the app's central
    // evaluation (its strategy's) ran.
    assertTrue(aggregatorLog.contains("fashion-mnist: 3 round(s)"), aggregatorLog);
    assertTrue(aggregatorLog.contains("round 3  learners 2/2  loss "), aggregatorLog);
    assertTrue(aggregatorLog.lines().filter(l -> l.startsWith("round "))
        .allMatch(l -> l.contains("learners 2/2") && l.contains("central loss")), aggregatorLog);
    for (int i = 0; i < learners.size(); i++) {
      Process learner = learners.get(i);
      assertTrue(learner.waitFor(60, TimeUnit.SECONDS), "learner " + i + " exits");
      String log = Files.readString(dir.resolve("learner-" + i + ".log"));
      assertEquals(0, learner.exitValue(), log);
      // The learner's name is the app's name and its index; 600 IID images each.
      assertTrue(log.contains("fashion-mnist-" + i), log);
      assertTrue(log.contains("the aggregator's training finished (3 rounds completed)"), log);
    }
    // The app's name is the MLflow experiment when --experiment is not given.
    try (Stream<Path> experiments = Files.list(dir.resolve("mlruns"))) {
      assertTrue(experiments.map(e -> e.resolve("meta.yaml")).filter(Files::isRegularFile)
          .anyMatch(meta -> read(meta).contains("name: fashion-mnist")), "experiment");
    }
  }

  @Test
  void learnerWithoutItsDataDirectory_exits2NamingIt(@TempDir Path dir) throws Exception {
    Path jar = appJar(dir);
    Path missing = dir.resolve("no-such-data");

    Process learner = java(dir, "learner", Map.of(), LearnerMain.class, "--app", jar.toString(),
        "--aggregator", "127.0.0.1:1", "--data", missing.toString(), "--index", "0");

    assertTrue(learner.waitFor(60, TimeUnit.SECONDS));
    String log = Files.readString(dir.resolve("learner.log"));
    assertEquals(2, learner.exitValue(), log);
    assertTrue(log.contains("error: data directory " + missing + " does not exist"), log);
  }

  @Test
  void learnerWithAnEmptyDataDirectory_exits2WithTheAppsDataMessage(@TempDir Path dir)
      throws Exception {
    Path jar = appJar(dir);
    Path empty = Files.createDirectory(dir.resolve("emptydata"));

    Process learner = java(dir, "learner", Map.of(), LearnerMain.class, "--app", jar.toString(),
        "--aggregator", "127.0.0.1:1", "--data", empty.toString(), "--index", "0");

    assertTrue(learner.waitFor(60, TimeUnit.SECONDS));
    String log = Files.readString(dir.resolve("learner.log"));
    // A data problem, in the learner's own flag, not an app bug ("fix the app", --data-dir).
    assertEquals(2, learner.exitValue(), log);
    assertTrue(log.contains("error: " + FashionApp.class.getName() + " cannot read learner "
        + "fashion-mnist-0's data: the Fashion-MNIST data directory " + empty + " (--data) lacks "
        + FashionMnist.TRAIN_IMAGES), log);
    assertFalse(log.contains("fix the app"), log);
    assertFalse(log.contains("--data-dir"), log);
  }

  @Test
  void learnerWithAnUnknownTag_exits2NamingTheAcceptedOnes(@TempDir Path dir) throws Exception {
    Path jar = appJar(dir);

    Process learner = java(dir, "learner", Map.of(), LearnerMain.class, "--app", jar.toString(),
        "--aggregator", "127.0.0.1:1", "--data", dir.toString(), "--data-tags", "lables:2");

    assertTrue(learner.waitFor(60, TimeUnit.SECONDS));
    String log = Files.readString(dir.resolve("learner.log"));
    assertEquals(2, learner.exitValue(), log);
    assertTrue(log.contains("unknown data tag 'lables:2'; the Fashion app takes a partitioning"),
        log);
  }

  @Test
  void aggregatorRefusesFedAvgOptionsWithAnApp(@TempDir Path dir) throws Exception {
    Path jar = appJar(dir);

    Process aggregator = java(dir, "aggregator", Map.of(), AggregatorMain.class,
        "--app", jar.toString(), "--fraction-fit", "0.5", "--port", "0");

    assertTrue(aggregator.waitFor(60, TimeUnit.SECONDS));
    String log = Files.readString(dir.resolve("aggregator.log"));
    assertEquals(2, aggregator.exitValue(), log);
    assertTrue(log.contains("error: --fraction-fit configures the FedAvg that --model-factory "
        + "runs; with --app the strategy is the app's own"), log);
  }

  private static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static Process java(Path dir, String name, Map<String, String> env, Class<?> main,
      String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), main.getName()));
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(dir.resolve(name + ".log").toFile());
    builder.environment().putAll(env);
    return builder.start();
  }

  /** This module's compiled classes and resources as a jar, as {@code mvn package} makes it. */
  static Path appJar(Path dir) throws Exception {
    Path classes = Path.of(FashionApp.class.getProtectionDomain().getCodeSource().getLocation()
        .toURI());
    Path jar = dir.resolve("fashion-app.jar");
    try (OutputStream out = Files.newOutputStream(jar);
        JarOutputStream zip = new JarOutputStream(out);
        Stream<Path> files = Files.walk(classes)) {
      for (Path file : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
        zip.putNextEntry(new JarEntry(classes.relativize(file).toString().replace('\\', '/')));
        Files.copy(file, zip);
        zip.closeEntry();
      }
    }
    return jar;
  }

  /** The embedded Fashion-MNIST subset as a data directory of the four IDX files. */
  private static Path subset(Path dir) throws IOException {
    Files.createDirectories(dir);
    for (String file : List.of(FashionMnist.TRAIN_IMAGES, FashionMnist.TRAIN_LABELS,
        FashionMnist.TEST_IMAGES, FashionMnist.TEST_LABELS)) {
      try (InputStream in = FashionMnist.class.getResourceAsStream(
          FashionMnist.SUBSET_RESOURCE_DIR + file)) {
        Files.copy(in, dir.resolve(file));
      }
    }
    return dir;
  }
}
