package dev.flops.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.FederatedModel;
import dev.flops.api.LocalTrainer;
import dev.flops.api.app.FederatedApp;
import dev.flops.api.app.FederatedApps;
import dev.flops.api.app.LearnerContext;
import dev.flops.api.strategy.Strategy;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code LearnerMain --app}: the context the app receives from the options, the learner's default
 * name, and the options that do not go together. The app jar is built here: a service file naming
 * {@link ContextApp}, whose class comes from the test classpath.
 */
class AppLearnerTest {
  @TempDir Path dir;

  /** Hands out the context it was given, as the trainer's model is never used here. */
  public static final class ContextApp implements FederatedApp {
    static LearnerContext seen;
    static final LocalTrainer TRAINER =
        new LearnerMainTest.IdleTrainerFactory().get();

    @Override
    public String name() {
      return "ctx";
    }

    @Override
    public FederatedModel newModel() {
      throw new UnsupportedOperationException("a learner never makes the aggregator's model");
    }

    @Override
    public LocalTrainer newTrainer(LearnerContext context) {
      seen = context;
      return TRAINER;
    }

    @Override
    public Strategy strategy() {
      throw new UnsupportedOperationException("a learner never makes a strategy");
    }
  }

  @Test
  void optionsBecomeTheAppsContext_nameDefaultsToAppAndIndex() throws IOException {
    AppLearner.Named named =
        AppLearner.trainer(jar(), dir, "iid, train-limit=600", 2, 3, null);

    assertSame(ContextApp.TRAINER, named.trainer());
    assertEquals("ctx-2", named.name());
    assertEquals(new LearnerContext(dir, List.of("iid", "train-limit=600"), 2, 3, "ctx-2"),
        ContextApp.seen);
  }

  @Test
  void givenName_isKept() throws IOException {
    assertEquals("site-a", AppLearner.trainer(jar(), dir, "", 0, 1, "site-a").name());
    assertEquals(List.of(), ContextApp.seen.dataTags());
  }

  @Test
  void indexOutsideTheLearners_namesBothFlags() throws IOException {
    Path jar = jar();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> AppLearner.trainer(jar, dir, "", 3, 3, null));

    assertEquals("--index 3 is outside [0, 3): there are --learners 3", e.getMessage());
  }

  @Test
  void optionsThatDoNotGoTogether_exit2WithTheFix() throws IOException {
    String jar = jar().toString();

    assertRefused("--app needs --data DIR", "--app", jar);
    assertRefused("--app and --trainer-factory both given", "--app", jar, "--data",
        dir.toString(), "--trainer-factory", LearnerMainTest.IdleTrainerFactory.class.getName());
    assertRefused("--data is for --app", "--data", dir.toString(), "--trainer-factory",
        LearnerMainTest.IdleTrainerFactory.class.getName());
    assertRefused("give --app JAR", "--name", "x");
  }

  private static void assertRefused(String start, String... options) {
    StringWriter err = new StringWriter();
    CommandLine commandLine = LearnerMain.commandLine(new LearnerMain());
    commandLine.setErr(new PrintWriter(err, true));
    String[] args = new String[options.length + 2];
    args[0] = "--aggregator";
    args[1] = "127.0.0.1:1";
    System.arraycopy(options, 0, args, 2, options.length);

    int exit = commandLine.execute(args);

    assertEquals(2, exit, err.toString());
    assertTrue(err.toString().startsWith("error: " + start), err.toString());
  }

  private Path jar() throws IOException {
    Path jar = dir.resolve("ctx-app.jar");
    try (OutputStream out = Files.newOutputStream(jar);
        JarOutputStream zip = new JarOutputStream(out)) {
      zip.putNextEntry(new JarEntry(FederatedApps.SERVICE_FILE));
      zip.write((ContextApp.class.getName() + "\n").getBytes(StandardCharsets.UTF_8));
      zip.closeEntry();
    }
    return jar;
  }
}
