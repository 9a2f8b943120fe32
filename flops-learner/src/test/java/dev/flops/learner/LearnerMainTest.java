package dev.flops.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.FederatedModel;
import dev.flops.api.FitResult;
import dev.flops.api.LocalTrainer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The learner's command line: a bad value ends with one line naming the flag the user typed. */
class LearnerMainTest {

  /** A trainer factory for the command line; the test fails before the learner would train. */
  public static final class IdleTrainerFactory implements Supplier<LocalTrainer> {
    @Override
    public LocalTrainer get() {
      return new LocalTrainer() {
        @Override
        public FederatedModel model() {
          throw new UnsupportedOperationException("never trains");
        }

        @Override
        public FitResult fit(Config config) {
          throw new UnsupportedOperationException("never trains");
        }

        @Override
        public EvaluateResult evaluate(Config config) {
          throw new UnsupportedOperationException("never trains");
        }
      };
    }
  }

  @Test
  void connectTimeoutZero_namesTheFlag_andTheDurationForPeople() {
    StringWriter err = new StringWriter();
    CommandLine commandLine = LearnerMain.commandLine(new LearnerMain());
    commandLine.setErr(new PrintWriter(err, true));
    int exit = commandLine.execute("--aggregator", "127.0.0.1:50051", "--trainer-factory",
        IdleTrainerFactory.class.getName(), "--connect-timeout", "0");
    assertEquals(2, exit);
    assertEquals("error: --connect-timeout must be positive but was 0 ms", err.toString().strip());
  }
}
