package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.strategy.FedAvg;
import io.grpc.Status;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The aggregator's security options on the command line: pairs, exclusions, FLOPS_TOKEN. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class AggregatorSecurityOptionsTest {
  @TempDir
  Path dir;

  @Test
  void certificateWithoutKey_exitsNamingBothOptions() {
    String err = run(2, "--tls-cert", dir.resolve("aggregator.pem").toString());
    assertEquals("error: --tls-cert and --tls-key go together: give both (the certificate chain "
        + "and its private key) or neither", err.strip());
  }

  @Test
  void sharedAndPerLearnerTokens_exitSayingTheyExcludeEachOther() {
    String err = run(2, "--token-file", dir.resolve("t").toString(),
        "--learner-tokens", dir.resolve("l").toString());
    assertTrue(err.contains("--token-file (one token for all learners) and --learner-tokens (a "
        + "token per learner) exclude each other"), err);
  }

  @Test
  void missingTokenFile_exitsNamingIt() {
    String err = run(2, "--token-file", dir.resolve("absent").toString());
    assertEquals("error: the secret file " + dir.resolve("absent") + " does not exist",
        err.strip());
  }

  @Test
  void malformedEnvironmentToken_failsNamingTheVariable_notTheValue() {
    AggregatorSecurityOptions options = new AggregatorSecurityOptions();
    options.environment = Map.of("FLOPS_TOKEN", "too short");
    IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(
        IllegalArgumentException.class, () -> options.applyTo(Aggregator.builder()));
    assertEquals("the secret in $FLOPS_TOKEN is shorter than 16 characters; generate one with "
        + "`openssl rand -hex 32`", e.getMessage());
  }

  @Test
  void tokenFromTheEnvironment_isRequiredOfLearners() throws Exception {
    AggregatorSecurityOptions options = new AggregatorSecurityOptions();
    options.environment = Map.of("FLOPS_TOKEN", TokenTest.newToken().reveal());
    TrainingPlan plan = TrainingPlan.builder().rounds(1).build();
    FedAvg strategy = FedAvg.builder().build();
    try (Aggregator aggregator = options.applyTo(Aggregator.builder()
            .host("127.0.0.1").port(0)
            .model(new ArrayModel(Federations.randomParameters(1, false))))
        .build().start();
        SecureRawLearner anonymous = new SecureRawLearner(aggregator.port(), null, null)) {
      anonymous.hello("anonymous");
      assertEquals(Status.Code.UNAUTHENTICATED, anonymous.awaitError().getCode());
    }
  }

  private static String run(int expectedExit, String... security) {
    String[] args = new String[security.length + 2];
    args[0] = "--model-factory";
    args[1] = AggregatorMainTest.SmallModelFactory.class.getName();
    System.arraycopy(security, 0, args, 2, security.length);
    StringWriter err = new StringWriter();
    CommandLine commandLine = AggregatorMain.commandLine(new AggregatorMain());
    commandLine.setErr(new PrintWriter(err, true));
    assertEquals(expectedExit, commandLine.execute(args), err.toString());
    return err.toString();
  }
}
