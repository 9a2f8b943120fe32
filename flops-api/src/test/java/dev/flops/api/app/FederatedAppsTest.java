package dev.flops.api.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.strategy.FedAvg;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link FederatedApps#load} on jars built here from the compiled {@link TestApps} (their class
 * files and a service file), through the JDK's real {@link java.util.ServiceLoader}.
 */
class FederatedAppsTest {
  @TempDir Path dir;

  @Test
  void oneProvider_isLoadedFromTheJar_andItsLoaderIsTheJars() throws IOException {
    Path jar = jar("good.jar", TestApps.GoodApp.class.getName());

    LoadedApp app = FederatedApps.load(jar);

    assertEquals("good", app.name());
    assertInstanceOf(TestApps.GoodApp.class, app.app());
    assertInstanceOf(FedAvg.class, app.strategy());
    assertEquals(jar.toAbsolutePath(), app.jar());
    assertNotSame(FederatedApps.class.getClassLoader(), app.classLoader());
  }

  @Test
  void missingJar_isNamedWithWhatToPass() {
    Path missing = dir.resolve("nowhere/app.jar");

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> FederatedApps.load(missing));

    assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    assertTrue(e.getMessage().contains("--app"), e.getMessage());
  }

  @Test
  void noProvider_showsTheServiceFileAndTheLineToAdd() throws IOException {
    // The app class is in the jar, its declaration is not: the message names the class.
    Path jar = jar("undeclared.jar", null);

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> FederatedApps.load(jar));

    assertTrue(e.getMessage().contains("declares no dev.flops.api.app.FederatedApp"),
        e.getMessage());
    assertTrue(e.getMessage().contains("META-INF/services/dev.flops.api.app.FederatedApp"),
        e.getMessage());
    assertTrue(e.getMessage().contains("\n  dev.flops.api.app.TestApps$GoodApp"), e.getMessage());
  }

  @Test
  void twoProviders_areBothNamed() throws IOException {
    Path jar = jar("two.jar",
        TestApps.GoodApp.class.getName() + "\n# a comment\n" + TestApps.OtherApp.class.getName());

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> FederatedApps.load(jar));

    assertTrue(e.getMessage().contains("declares 2 apps"), e.getMessage());
    assertTrue(e.getMessage().contains(TestApps.GoodApp.class.getName()), e.getMessage());
    assertTrue(e.getMessage().contains(TestApps.OtherApp.class.getName()), e.getMessage());
    assertTrue(e.getMessage().contains("keep one line"), e.getMessage());
  }

  @Test
  void throwingProvider_namesItsClassAndTheCause() throws IOException {
    Path jar = jar("throwing.jar", TestApps.ThrowingApp.class.getName());

    FederatedAppException e =
        assertThrows(FederatedAppException.class, () -> FederatedApps.load(jar));

    assertTrue(e.getMessage().contains(TestApps.ThrowingApp.class.getName()), e.getMessage());
    assertTrue(e.getMessage().contains("setting app.home is missing"), e.getMessage());
    assertInstanceOf(IllegalStateException.class, e.getCause());
  }

  @Test
  void misspelledProvider_isNamedWithTheFix() throws IOException {
    Path jar = jar("typo.jar", "dev.flops.api.app.TestApps.GoodApp");

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> FederatedApps.load(jar));

    assertTrue(e.getMessage().contains("dev.flops.api.app.TestApps.GoodApp"), e.getMessage());
    assertTrue(e.getMessage().contains("Outer$MyApp"), e.getMessage());
  }

  @Test
  void notAJar_isRefused() throws IOException {
    Path text = Files.writeString(dir.resolve("app.jar"), "not a zip");

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> FederatedApps.load(text));

    assertTrue(e.getMessage().contains("cannot be read as a jar"), e.getMessage());
  }

  @Test
  void missingDataDirectory_isRefusedBeforeTheAppSeesIt() throws IOException {
    LoadedApp app = FederatedApps.load(jar("good.jar", TestApps.GoodApp.class.getName()));
    Path missing = dir.resolve("data/site-a");
    LearnerContext context = new LearnerContext(missing, List.of("iid"), 0, 1, "site-a");

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> app.newTrainer(context));

    assertTrue(e.getMessage().contains("data directory " + missing + " does not exist"),
        e.getMessage());
    assertTrue(e.getMessage().contains("--data"), e.getMessage());
  }

  @Test
  void rejectedContext_namesTheAppAndKeepsItsReason() throws IOException {
    LoadedApp app = FederatedApps.load(jar("good.jar", TestApps.GoodApp.class.getName()));
    LearnerContext context = new LearnerContext(dir, List.of("lables:2"), 0, 1, "site-a");

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> app.newTrainer(context));

    assertTrue(e.getMessage().startsWith(TestApps.GoodApp.class.getName() + " rejected learner "
        + "site-a's context: unknown data tag 'lables:2'"), e.getMessage());
  }

  @Test
  void throwingMethod_namesTheClassAndMethod() throws IOException {
    LoadedApp app = FederatedApps.load(jar("good.jar", TestApps.GoodApp.class.getName()));

    FederatedAppException e = assertThrows(FederatedAppException.class, app::newModel);

    assertTrue(e.getMessage().startsWith(TestApps.GoodApp.class.getName() + ".newModel() threw"),
        e.getMessage());
    assertTrue(e.getMessage().contains("the loader tests never make a model"), e.getMessage());
  }

  @Test
  void contextChecksItsValues() {
    assertThrows(IllegalArgumentException.class,
        () -> new LearnerContext(dir, List.of(), 3, 3, "x"));
    assertThrows(IllegalArgumentException.class,
        () -> new LearnerContext(dir, List.of("a b", " "), 0, 1, "x"));
    assertThrows(IllegalArgumentException.class, () -> LearnerContext.parseTags("a,,b"));
    assertEquals(List.of("a", "b"), LearnerContext.parseTags("a, b"));
    assertEquals(List.of(), LearnerContext.parseTags(""));
  }

  /** A jar with every TestApps class and, unless null, a service file holding {@code lines}. */
  private Path jar(String name, String lines) throws IOException {
    Path jar = dir.resolve(name);
    try (OutputStream out = Files.newOutputStream(jar);
        JarOutputStream zip = new JarOutputStream(out)) {
      for (Class<?> type : List.of(TestApps.class, TestApps.GoodApp.class,
          TestApps.OtherApp.class, TestApps.ThrowingApp.class)) {
        String entry = type.getName().replace('.', '/') + ".class";
        zip.putNextEntry(new JarEntry(entry));
        try (InputStream in = type.getClassLoader().getResourceAsStream(entry)) {
          in.transferTo(zip);
        }
        zip.closeEntry();
      }
      if (lines != null) {
        zip.putNextEntry(new JarEntry(FederatedApps.SERVICE_FILE));
        zip.write((lines + "\n").getBytes(StandardCharsets.UTF_8));
        zip.closeEntry();
      }
    }
    return jar;
  }
}
