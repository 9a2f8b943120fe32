package dev.flops.api.strategy;

import dev.flops.api.Parameters;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Bulyan (El Mhamdi et al., "The Hidden Vulnerability of Distributed Learning in Byzantium", ICML
 * 2018) in place of FedAvg's mean: with n updates of which at most f are Byzantine, Krum is applied
 * repeatedly, each time to the updates not yet chosen, until {@code θ = n - 2f} are chosen; then
 * each coordinate of the new global model is the mean of the {@code β = θ - 2f} chosen values
 * closest to their median (unweighted, summed in double, rounded to float32 once). As in Flower,
 * the repeated Krum scores each remaining update over its {@code max(1, r - f - 2)} nearest of the
 * r remaining ones; its ties go to the smaller learner id, and the nearest-to-median run grows
 * toward the smaller value on a tie, so the result does not depend on arrival order. Needs
 * {@code n >= 4f + 3}; a round with fewer updates is refused by {@link UpdateCombiner#combine()},
 * so it keeps the global parameters and the log says why. With f = 0 it is the unweighted mean.
 *
 * <pre>{@code
 * Bulyan bulyan = Bulyan.builder()
 *     .byzantine(1)
 *     .base(FedAvg.builder().minFitLearners(7))
 *     .build();
 * }</pre>
 *
 * <p>Knobs: {@code byzantine} f (default 0); {@code stagingDirectory} (default
 * {@code flops-staging} under {@code java.io.tmpdir}); {@code base}, FedAvg's settings (default
 * {@code FedAvg.builder()}).
 *
 * <p>Cost per round, for n updates of P float32 values: disk n × P × 4 bytes (one file, deleted
 * when the round's aggregation ends, also when it is discarded or fails); memory θ × 64 Ki × 4
 * bytes of block buffer, n² doubles of distances, plus the result, P × 4 bytes off the heap; CPU
 * one sort of θ values per coordinate. Distances are computed as updates arrive.
 */
public final class Bulyan extends ForwardingStrategy {

  private Bulyan(Builder builder) {
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
    private final Path stagingDirectory;

    Variant(Bulyan.Builder builder) {
      super(builder.base());
      this.byzantine = builder.byzantine;
      this.stagingDirectory = builder.stagingDirectory;
    }

    /** Stages the round's updates with their pairwise distances and applies Bulyan's two steps. */
    @Override
    protected UpdateCombiner combiner(int round, Parameters global, AveragingKernel kernel) {
      return StagedCombiner.create("Bulyan", stagingDirectory, round, global, true, this::bulyan);
    }

    private Parameters bulyan(UpdateStaging staged, List<double[]> distances) {
      int n = staged.count();
      RobustRules.requireBulyanQuorum(n, byzantine);
      int theta = n - 2 * byzantine;
      int beta = theta - 2 * byzantine;
      int[] remaining = RobustRules.all(n);
      int[] chosen = new int[theta];
      for (int c = 0; c < theta; c++) {
        int r = remaining.length;
        int closest = Math.min(r - 1, Math.max(1, r - byzantine - 2));
        chosen[c] = RobustRules.rankedByScore(staged, distances, remaining, closest)[0];
        int picked = chosen[c];
        remaining = Arrays.stream(remaining).filter(i -> i != picked).toArray();
      }
      return staged.combine(RobustRules.byLearnerId(staged, chosen),
          values -> RobustRules.meanAroundMedian(values, beta));
    }

    /**
     * Describes the knobs: FedAvg's, {@code byzantine} and {@code staging_directory}.
     *
     * @return knob names and values
     */
    @Override
    public Map<String, Object> knobs() {
      Map<String, Object> knobs = super.knobs();
      knobs.put("byzantine", byzantine);
      knobs.put("staging_directory", stagingDirectory.toString());
      return knobs;
    }
  }

  /** Builds a {@link Bulyan}; every setter checks its value at once. */
  public static final class Builder extends RobustBuilder.WithByzantine<Builder> {
    private Builder() {}

    /**
     * Builds the strategy.
     *
     * @return the strategy
     */
    public Bulyan build() {
      return new Bulyan(this);
    }
  }
}
