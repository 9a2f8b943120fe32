package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * An application that does not use DL4J excludes nd4j-native from flops-aggregator, as the README
 * says: the aggregator then trains with the plain-Java kernel, whether the application sets it or
 * leaves the choice to the aggregator (which says so in its log). A child JVM runs without any
 * ND4J, JavaCPP or DL4J jar on its classpath.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class WithoutNd4jTest {

  private static String classpathWithoutNd4j() {
    // Surefire's own JVM may see only its booter jar in java.class.path.
    String full = System.getProperty("surefire.test.class.path",
        System.getProperty("java.class.path"));
    String kept = Arrays.stream(full.split(File.pathSeparator))
        .filter(entry -> !entry.matches(".*/org/(nd4j|bytedeco|deeplearning4j)/.*"))
        .collect(Collectors.joining(File.pathSeparator));
    assertFalse(kept.contains("nd4j") || kept.contains("javacpp"), kept);
    assertTrue(full.contains("nd4j"), "the test classpath itself holds ND4J: " + full);
    return kept;
  }

  private static String run(Path dir, String mode) throws Exception {
    Process process = new ProcessBuilder(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", classpathWithoutNd4j(), WithoutNd4jMain.class.getName(), mode)
        .redirectOutput(dir.resolve(mode + ".out").toFile())
        .redirectError(dir.resolve(mode + ".err").toFile())
        .start();
    assertTrue(process.waitFor(90, TimeUnit.SECONDS), "the child JVM finishes");
    String err = Files.readString(dir.resolve(mode + ".err"));
    assertEquals(0, process.exitValue(), err);
    assertEquals(List.of("trained: round 1 fit 1 ok"),
        Files.readString(dir.resolve(mode + ".out")).lines().toList(), err);
    return err;
  }

  @Test
  void theJavaKernelSetExplicitly_trainsWithoutNd4j(@TempDir Path dir) throws Exception {
    run(dir, "java");
  }

  @Test
  void theDefaultKernel_fallsBackToJavaWithoutNd4j_andSaysSo(@TempDir Path dir) throws Exception {
    String err = run(dir, "default");
    assertTrue(err.contains("ND4J is not on the classpath (org.nd4j.linalg.factory.Nd4j is "
        + "missing): averaging with the plain-Java kernel (JavaAveraging); add "
        + "org.nd4j:nd4j-native for the native kernel"), err);
  }
}
