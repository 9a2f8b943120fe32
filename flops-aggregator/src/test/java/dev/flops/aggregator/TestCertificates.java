package dev.flops.aggregator;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Test certificates made at test time by {@code bin/make-test-certs} (openssl), the script the
 * README tells operators to use: a CA, the aggregator's certificate and one per learner.
 */
record TestCertificates(Path dir) {

  /** Runs the script into {@code dir} with the given learners' client certificates. */
  static TestCertificates make(Path dir, String... learners)
      throws IOException, InterruptedException {
    List<String> arguments = new ArrayList<>();
    for (String learner : learners) {
      arguments.add("--learner");
      arguments.add(learner);
    }
    return run(dir, arguments);
  }

  /** Runs the script into {@code dir} with an aggregator certificate naming {@code hosts} only. */
  static TestCertificates forHostsOnly(Path dir, String... hosts)
      throws IOException, InterruptedException {
    List<String> arguments = new ArrayList<>(List.of("--only-hosts"));
    for (String host : hosts) {
      arguments.add("--host");
      arguments.add(host);
    }
    return run(dir, arguments);
  }

  private static TestCertificates run(Path dir, List<String> arguments)
      throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(script().toString(), dir.toString()));
    command.addAll(arguments);
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
      throw new IllegalStateException("bin/make-test-certs failed: " + output);
    }
    return new TestCertificates(dir);
  }

  Path ca() {
    return dir.resolve("ca.pem");
  }

  Path aggregatorCertificate() {
    return dir.resolve("aggregator.pem");
  }

  Path aggregatorKey() {
    return dir.resolve("aggregator.key");
  }

  Path certificate(String learner) {
    return dir.resolve(learner + ".pem");
  }

  Path key(String learner) {
    return dir.resolve(learner + ".key");
  }

  /** Finds bin/make-test-certs above the module's directory. */
  static Path script() {
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      Path script = dir.resolve("bin").resolve("make-test-certs");
      if (Files.isExecutable(script)) {
        return script;
      }
    }
    throw new IllegalStateException(
        "bin/make-test-certs not found above " + Path.of("").toAbsolutePath());
  }
}
