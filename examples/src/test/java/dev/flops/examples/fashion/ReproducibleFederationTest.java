package dev.flops.examples.fashion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.TrainingResult;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

/**
 * {@code local-federation --reproducible}: DL4J learners on Fashion-MNIST over gRPC on loopback,
 * run twice with the same seed, give the same round lines and bit-identical final parameters,
 * although the learners' threads finish in whatever order the machine's load makes.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class ReproducibleFederationTest {

  @Test
  void sameSeedTwice_givesTheSameRoundLines_andTheSameBits() {
    Run first = run();
    Run second = run();

    assertEquals(2, first.result.rounds().size());
    assertEquals(first.roundLines(), second.roundLines());
    assertEquals(first.result.finalParameters(), second.result.finalParameters(),
        "the final global parameters, bit for bit");
  }

  @Test
  void fashionAggregatorMain_takesTheOption() {
    FashionAggregatorMain main = new FashionAggregatorMain();
    new CommandLine(main).parseArgs("--reproducible");
    assertTrue(main.reproducible.reproducible());
    FashionAggregatorMain defaults = new FashionAggregatorMain();
    new CommandLine(defaults).parseArgs();
    assertFalse(defaults.reproducible.reproducible(), "off unless asked for");
  }

  private static Run run() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    LocalFederation command =
        new LocalFederation(new PrintStream(bytes, true, StandardCharsets.UTF_8));
    int exit = new CommandLine(command).execute("--reproducible", "--no-tracking",
        "--no-central-evaluation", "--learners", "3", "--rounds", "2", "--train-limit", "3000",
        "--test-limit", "1000");
    String output = bytes.toString(StandardCharsets.UTF_8);
    assertEquals(0, exit, output);
    return new Run(output, command.result());
  }

  private record Run(String output, TrainingResult result) {
    /** The round lines without their last two fields, the round's duration and learner wait. */
    List<String> roundLines() {
      return output.lines()
          .filter(line -> line.matches("\\s+\\d+\\s+\\d+/\\d+\\s+.*"))
          .map(line -> line.replaceAll("\\s+[\\d.]+ s\\s+[\\d.]+ s$", ""))
          .toList();
    }
  }
}
