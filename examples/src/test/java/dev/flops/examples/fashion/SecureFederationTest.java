package dev.flops.examples.fashion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.TestPorts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's production setup, run as written: certificates from bin/make-test-certs, the
 * Fashion-MNIST aggregator and learners as separate processes with mutual TLS and per-learner
 * tokens (one learner's token in a file, the other's in FLOPS_TOKEN). Two intruders are turned
 * away: one with a wrong token, one without a client certificate. The federation trains.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class SecureFederationTest {

  @Test
  void mutualTlsAndTokens_acrossProcesses_trainAndRefuseIntruders(@TempDir Path dir)
      throws Exception {
    Path certs = dir.resolve("certs");
    run(List.of(script().toString(), certs.toString(), "--learner", "fashion-0",
        "--learner", "fashion-1"));
    String token0 = newToken();
    String token1 = newToken();
    Path tokens = Files.writeString(dir.resolve("learner-tokens"),
        "fashion-0=" + token0 + "\nfashion-1=" + token1 + "\n");
    Path token0File = Files.writeString(dir.resolve("token-0"), token0 + "\n");
    int port = TestPorts.unusedPort();

    Process aggregator = start(dir.resolve("aggregator.log"), Map.of(),
        FashionAggregatorMain.class.getName(), "--host", "127.0.0.1", "--port", "" + port,
        "--rounds", "2", "--min-learners", "2",
        "--tls-cert", certs.resolve("aggregator.pem").toString(),
        "--tls-key", certs.resolve("aggregator.key").toString(),
        "--client-ca", certs.resolve("ca.pem").toString(),
        "--learner-tokens", tokens.toString());
    List<String> common = List.of("--aggregator", "127.0.0.1:" + port, "--learners", "2",
        "--train-limit", "2000", "--test-limit", "400",
        "--trust-file", certs.resolve("ca.pem").toString());

    Process wrongToken = start(dir.resolve("intruder-token.log"), Map.of("FLOPS_TOKEN",
        newToken()), learnerArgs(common, 1, "--tls-cert", certs.resolve("fashion-1.pem"),
        "--tls-key", certs.resolve("fashion-1.key")));
    Process noCertificate = start(dir.resolve("intruder-cert.log"), Map.of("FLOPS_TOKEN", token1),
        learnerArgs(common, 1));
    String intruderToken = finish(wrongToken, dir.resolve("intruder-token.log"), 1);
    assertTrue(intruderToken.contains("refused learner fashion-1: UNAUTHENTICATED: the learner "
        + "token is not valid for this aggregator"), intruderToken);
    String intruderCert = finish(noCertificate, dir.resolve("intruder-cert.log"), 1);
    assertTrue(intruderCert.contains("the TLS handshake failed: the aggregator requires a "
        + "learner certificate (mutual TLS) and this learner presents none"), intruderCert);

    List<Process> learners = new ArrayList<>();
    learners.add(start(dir.resolve("learner-0.log"), Map.of(), learnerArgs(common, 0,
        "--tls-cert", certs.resolve("fashion-0.pem"), "--tls-key", certs.resolve("fashion-0.key"),
        "--token-file", token0File)));
    learners.add(start(dir.resolve("learner-1.log"), Map.of("FLOPS_TOKEN", token1),
        learnerArgs(common, 1, "--tls-cert", certs.resolve("fashion-1.pem"),
            "--tls-key", certs.resolve("fashion-1.key"))));
    for (int i = 0; i < learners.size(); i++) {
      String log = finish(learners.get(i), dir.resolve("learner-" + i + ".log"), 0);
      assertTrue(log.contains("the aggregator's training finished (2 rounds completed)"), log);
    }
    String log = finish(aggregator, dir.resolve("aggregator.log"), 0);
    assertTrue(log.contains("TLS on; learner certificates required"), log);
    assertTrue(log.contains("learner tokens required (2 learners)"), log);
    assertTrue(log.contains("round 2"), log);
    for (String any : List.of(log, intruderToken, intruderCert)) {
      assertFalse(any.contains(token0) || any.contains(token1), "a token appears in a log");
    }
  }

  private static String newToken() {
    byte[] bytes = new byte[32];
    new SecureRandom().nextBytes(bytes);
    return HexFormat.of().formatHex(bytes);
  }

  private static String[] learnerArgs(List<String> common, int index, Object... more) {
    List<String> args = new ArrayList<>();
    args.add(FashionLearnerMain.class.getName());
    args.addAll(common);
    args.add("--index");
    args.add(String.valueOf(index));
    for (Object arg : more) {
      args.add(arg.toString());
    }
    return args.toArray(String[]::new);
  }

  private static Process start(Path log, Map<String, String> environment, String... args)
      throws Exception {
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path")));
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(log.toFile());
    builder.environment().remove("FLOPS_TOKEN");
    builder.environment().putAll(environment);
    return builder.start();
  }

  private static String finish(Process process, Path log, int expectedExit) throws Exception {
    assertTrue(process.waitFor(5, TimeUnit.MINUTES), "the process ends: " + log);
    String text = Files.readString(log);
    assertEquals(expectedExit, process.exitValue(), text);
    return text;
  }

  private static void run(List<String> command) throws Exception {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes());
    assertTrue(process.waitFor(60, TimeUnit.SECONDS), "bin/make-test-certs ends");
    assertEquals(0, process.exitValue(), output);
  }

  /** bin/make-test-certs, above the module's directory. */
  private static Path script() {
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      Path script = dir.resolve("bin").resolve("make-test-certs");
      if (Files.isExecutable(script)) {
        return script;
      }
    }
    throw new IllegalStateException("bin/make-test-certs not found");
  }
}
