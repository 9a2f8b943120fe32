package dev.flops.api.strategy;

import dev.flops.api.Parameters;
import java.nio.file.Path;
import java.util.Map;

/**
 * FedAvg with the coordinate-wise median in place of the weighted mean (Yin et al., "Byzantine-
 * Robust Distributed Learning: Towards Optimal Statistical Rates", ICML 2018): each value of the
 * new global model is the median of that value over the round's n updates (the mean of the two
 * middle ones when n is even). Example counts do not weigh in, as in Flower's {@code FedMedian}:
 * a learner that lies about its count gains nothing. Tolerates up to half the updates being
 * arbitrary, coordinate by coordinate.
 *
 * <pre>{@code
 * FedMedian median = FedMedian.builder()
 *     .stagingDirectory(Path.of("/var/tmp/flops"))
 *     .base(FedAvg.builder().minFitLearners(5))
 *     .build();
 * }</pre>
 *
 * <p>Knobs: {@code stagingDirectory} (default {@code flops-staging} under {@code java.io.tmpdir})
 * and {@code base}, FedAvg's settings (default {@code FedAvg.builder()}); everything but the
 * combination (sampling, configs, failures, metrics, {@link FedAvg#serverUpdate}) is FedAvg's.
 *
 * <p>Cost per round, for n updates of P float32 values: disk n × P × 4 bytes (one file, deleted
 * when the round's aggregation ends, also when it is discarded or fails); memory n × 64 Ki × 4
 * bytes of block buffer (5 MiB for n = 20) plus the result, P × 4 bytes off the heap; CPU one sort
 * of n values per coordinate. The result does not depend on the order in which updates arrived.
 */
public final class FedMedian extends ForwardingStrategy {

  private FedMedian(Builder builder) {
    super(new Variant(builder));
  }

  /**
   * Returns a builder with the defaults.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /** The FedAvg variant inside: one hook, {@link FedAvg#combiner}. */
  private static final class Variant extends FedAvg {
    private final Path stagingDirectory;

    Variant(FedMedian.Builder builder) {
      super(builder.base());
      this.stagingDirectory = builder.stagingDirectory;
    }

    /** Stages the round's updates and takes each coordinate's median of them. */
    @Override
    protected UpdateCombiner combiner(int round, Parameters global, AveragingKernel kernel) {
      return StagedCombiner.create("FedMedian", stagingDirectory, round, global, false,
          (staged, distances) ->
              staged.combine(RobustRules.all(staged.count()), RobustRules::median));
    }

    /**
     * Describes the knobs: FedAvg's and {@code staging_directory}.
     *
     * @return knob names and values
     */
    @Override
    public Map<String, Object> knobs() {
      Map<String, Object> knobs = super.knobs();
      knobs.put("staging_directory", stagingDirectory.toString());
      return knobs;
    }
  }

  /** Builds a {@link FedMedian}; every setter checks its value at once. */
  public static final class Builder extends RobustBuilder<Builder> {
    private Builder() {}

    /**
     * Builds the strategy.
     *
     * @return the strategy
     */
    public FedMedian build() {
      return new FedMedian(this);
    }
  }
}
