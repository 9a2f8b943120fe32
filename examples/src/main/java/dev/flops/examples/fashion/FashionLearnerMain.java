package dev.flops.examples.fashion;

import dev.flops.learner.Learner;
import dev.flops.learner.LearnerMain;
import dev.flops.learner.LearnerSecurityOptions;
import dev.flops.learner.NativeThreadsOptions;
import dev.flops.proto.codec.FlopsVersion;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * One Fashion-MNIST learner as its own process: loads partition {@code --index} of
 * {@code --learners} and connects to the aggregator, waiting for it if it is not up yet. In a
 * hierarchical federation it is a leaf: {@code --clusters K --cluster C} give it a share of site
 * C's classes only, and {@code --aggregator} names its cluster's {@link FashionClusterMain}.
 */
@Command(name = "fashion-learner", mixinStandardHelpOptions = true,
    versionProvider = FlopsVersion.class,
    description = "Runs one Fashion-MNIST learner against an aggregator.")
public final class FashionLearnerMain implements Callable<Integer> {

  @Mixin
  FashionOptions options = new FashionOptions();

  @Option(names = "--aggregator", defaultValue = "127.0.0.1:50051", paramLabel = "HOST:PORT",
      description = "The aggregator's address (default: ${DEFAULT-VALUE}).")
  String aggregator;

  @Option(names = "--index", required = true,
      description = "Which partition this learner holds, from 0 to learners-1.")
  int index;

  @Mixin
  SiteShare site = new SiteShare();

  @Option(names = "--attack", paramLabel = "KIND:STRENGTH",
      description = "Makes this learner malicious, for demos and tests of robust strategies: "
          + "sign-flip:SCALE sends g - SCALE*(w - g) (its honest step reversed and scaled), "
          + "noise:SIGMA sends w + N(0, SIGMA^2). Default: honest.")
  String attack;

  @Mixin
  NativeThreadsOptions nativeThreads = new NativeThreadsOptions();

  @Mixin
  LearnerSecurityOptions security = new LearnerSecurityOptions();

  /**
   * Runs the learner.
   *
   * @param args command-line arguments; {@code --help} lists them
   */
  public static void main(String[] args) {
    // A learner prints no results: its standard output carries only --help.
    System.exit(StandardOutput.execute(results -> new FashionLearnerMain(), args));
  }

  @Override
  public Integer call() throws Exception {
    options.validate();
    site.validate();
    Attack malice = attack == null ? null : Attack.parse(attack);
    if (index < 0 || index >= options.learners) {
      throw new IllegalArgumentException(String.format(
          "--index %d is outside [0, %d): there are --learners %d",
          index, options.learners, options.learners));
    }
    FashionMnist data = options.load();
    // Sized once the data is loaded: learners started together all exist by then.
    nativeThreads.apply(FashionLearnerMain.class.getName());
    security.applyTo(Learner.builder()
            .aggregator(aggregator)
            .name(site.learnerName(index))
            .trainer(malice == null ? options.trainer(data, index, site)
                : new AttackingTrainer(options.trainer(data, index, site), malice,
                    options.seed + index)))
        .build()
        .run();
    return 0;
  }
}
