package dev.flops.api.strategy;

import dev.flops.api.Parameters;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * FedAvg over the m updates that Krum scores best (Multi-Krum, Blanchard et al., "Machine Learning
 * with Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS 2017): each of the n updates is
 * scored by the sum of its squared Euclidean distances to its {@code n - f - 2} nearest others;
 * the m lowest scores (ties to the smaller learner id) are kept, and the new global model is their
 * example-weighted mean, summed in double in learner-id order and rounded to float32 once, so that
 * it does not depend on arrival order. {@code m = 1} is {@link Krum}; {@code m = n} is an
 * (order-independent) FedAvg. Needs {@code n > 2f + 2}; a round with fewer updates, or fewer than
 * an explicit {@code keep}, is refused by {@link UpdateCombiner#combine()}, so it keeps the global
 * parameters and the log says why.
 *
 * <pre>{@code
 * MultiKrum multiKrum = MultiKrum.builder().byzantine(2).keep(4).build();
 * }</pre>
 *
 * <p>Knobs: {@code byzantine} f (default 0); {@code keep} m (default n - f, decided each round);
 * {@code stagingDirectory} (default {@code flops-staging} under {@code java.io.tmpdir});
 * {@code base}, FedAvg's settings (default {@code FedAvg.builder()}).
 *
 * <p>Cost per round, for n updates of P float32 values: disk n × P × 4 bytes (one file, deleted
 * when the round's aggregation ends, also when it is discarded or fails); memory m × 64 Ki × 4
 * bytes of block buffer, n² doubles of distances, plus the result, P × 4 bytes off the heap.
 * Distances are computed as updates arrive; the round's end reads the m kept updates once.
 */
public final class MultiKrum extends ForwardingStrategy {

  private MultiKrum(Builder builder) {
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
    private final int byzantine;
    private final int keep;
    private final Path stagingDirectory;

    Variant(MultiKrum.Builder builder) {
      super(builder.base());
      this.byzantine = builder.byzantine;
      this.keep = builder.keep;
      this.stagingDirectory = builder.stagingDirectory;
    }

    /** Stages the round's updates with their pairwise distances and averages the m best. */
    @Override
    protected UpdateCombiner combiner(int round, Parameters global, AveragingKernel kernel) {
      return StagedCombiner.create(
          "MultiKrum", stagingDirectory, round, global, true, this::meanOfBest);
    }

    private Parameters meanOfBest(UpdateStaging staged, List<double[]> distances) {
      int n = staged.count();
      RobustRules.requireKrumQuorum("MultiKrum", n, byzantine);
      int m = keep == 0 ? n - byzantine : keep;
      if (m > n) {
        throw new IllegalStateException(String.format("MultiKrum cannot combine this round: keep "
            + "m = %d but only n = %d updates arrived; sample at least %d learners a round or "
            + "lower keep (unset, it is n - f)", m, n, m));
      }
      int[] ranked = RobustRules.rankedByScore(
          staged, distances, RobustRules.all(n), n - byzantine - 2);
      int[] kept = RobustRules.byLearnerId(staged, Arrays.copyOf(ranked, m));
      double[] weights = new double[m];
      double total = 0;
      for (int k = 0; k < m; k++) {
        weights[k] = staged.examples(kept[k]);
        total += weights[k];
      }
      double sum = total;
      return staged.combine(kept, values -> RobustRules.weightedMean(values, weights, sum));
    }

    /**
     * Describes the knobs: FedAvg's, {@code byzantine}, {@code keep} (0: n - f) and
     * {@code staging_directory}.
     *
     * @return knob names and values
     */
    @Override
    public Map<String, Object> knobs() {
      Map<String, Object> knobs = super.knobs();
      knobs.put("byzantine", byzantine);
      knobs.put("keep", keep);
      knobs.put("staging_directory", stagingDirectory.toString());
      return knobs;
    }
  }

  /** Builds a {@link MultiKrum}; every setter checks its value at once. */
  public static final class Builder extends RobustBuilder.WithByzantine<Builder> {
    private int keep;

    private Builder() {}

    /**
     * Sets m, how many of the best-scored updates are averaged (default: n - f of each round).
     *
     * @param m at least 1; a round with fewer than m updates is refused
     * @return this builder
     * @throws IllegalArgumentException if {@code m} is below 1
     */
    public Builder keep(int m) {
      if (m < 1) {
        throw new IllegalArgumentException("keep (how many best-scored updates to average) must "
            + "be at least 1 but was " + m);
      }
      this.keep = m;
      return this;
    }

    /**
     * Builds the strategy.
     *
     * @return the strategy
     */
    public MultiKrum build() {
      return new MultiKrum(this);
    }
  }
}
