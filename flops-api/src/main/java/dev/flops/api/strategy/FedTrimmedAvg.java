package dev.flops.api.strategy;

import dev.flops.api.Parameters;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * FedAvg with the coordinate-wise trimmed mean in place of the weighted mean (Yin et al.,
 * "Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates", ICML 2018): for each
 * value of the model, the round's n values are sorted, {@code k = floor(beta · n)} are cut at each
 * end and the other {@code n - 2k} are averaged (unweighted, as Flower's {@code FedTrimmedAvg};
 * summed in double from the smallest up, rounded to float32 once).
 *
 * <pre>{@code
 * FedTrimmedAvg trimmed = FedTrimmedAvg.builder().beta(0.1).build();
 * }</pre>
 *
 * <p>Knobs: {@code beta}, the fraction cut at each end, in [0, 0.5) (default 0.2, Flower's);
 * {@code stagingDirectory} (default {@code flops-staging} under {@code java.io.tmpdir});
 * {@code base}, FedAvg's settings (default {@code FedAvg.builder()}). A round where {@code 2·floor(beta·n) >= n}
 * would leave nothing is refused by {@link UpdateCombiner#combine()}, so the round keeps the global
 * parameters and the log says why.
 *
 * <p>Cost per round, for n updates of P float32 values: disk n × P × 4 bytes (one file, deleted
 * when the round's aggregation ends, also when it is discarded or fails); memory n × 64 Ki × 4
 * bytes of block buffer plus the result, P × 4 bytes off the heap; CPU one sort of n values per
 * coordinate. The result does not depend on the order in which updates arrived.
 */
public final class FedTrimmedAvg extends ForwardingStrategy {

  private FedTrimmedAvg(Builder builder) {
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
    private final double beta;
    private final Path stagingDirectory;

    Variant(FedTrimmedAvg.Builder builder) {
      super(builder.base());
      this.beta = builder.beta;
      this.stagingDirectory = builder.stagingDirectory;
    }

    /** Stages the round's updates and takes each coordinate's trimmed mean of them. */
    @Override
    protected UpdateCombiner combiner(int round, Parameters global, AveragingKernel kernel) {
      return StagedCombiner.create(
          "FedTrimmedAvg", stagingDirectory, round, global, false, this::trimmedMean);
    }

    private Parameters trimmedMean(UpdateStaging staged, List<double[]> distances) {
      int n = staged.count();
      RobustRules.requireSomethingLeft(beta, n);
      int cut = RobustRules.trimCount(beta, n);
      return staged.combine(RobustRules.all(n), values -> RobustRules.trimmedMean(values, cut));
    }

    /**
     * Describes the knobs: FedAvg's, {@code beta} and {@code staging_directory}.
     *
     * @return knob names and values
     */
    @Override
    public Map<String, Object> knobs() {
      Map<String, Object> knobs = super.knobs();
      knobs.put("beta", beta);
      knobs.put("staging_directory", stagingDirectory.toString());
      return knobs;
    }
  }

  /** Builds a {@link FedTrimmedAvg}; every setter checks its value at once. */
  public static final class Builder extends RobustBuilder<Builder> {
    private double beta = 0.2;

    private Builder() {}

    /**
     * Sets the fraction of values cut at each end of every coordinate (default 0.2).
     *
     * @param beta in [0, 0.5); 0 is the plain unweighted mean
     * @return this builder
     * @throws IllegalArgumentException if {@code beta} is outside [0, 0.5): 0.5 or more would cut
     *     every value
     */
    public Builder beta(double beta) {
      if (!(beta >= 0 && beta < 0.5)) {
        throw new IllegalArgumentException("beta (the fraction cut at each end) must be in "
            + "[0, 0.5) but was " + beta + "; 0.5 or more cuts every value");
      }
      this.beta = beta;
      return this;
    }

    /**
     * Builds the strategy.
     *
     * @return the strategy
     */
    public FedTrimmedAvg build() {
      return new FedTrimmedAvg(this);
    }
  }
}
