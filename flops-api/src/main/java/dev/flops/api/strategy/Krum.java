package dev.flops.api.strategy;

import dev.flops.api.Parameters;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * FedAvg whose new global model is the one update that Krum picks (Blanchard et al., "Machine
 * Learning with Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS 2017): with n updates
 * of which at most f are Byzantine, each update's score is the sum of its squared Euclidean
 * distances to its {@code n - f - 2} nearest other updates, and the update with the lowest score
 * wins (a tie goes to the smaller learner id, so the choice does not depend on arrival order).
 * Krum needs {@code n > 2f + 2}; a round with fewer updates is refused by
 * {@link UpdateCombiner#combine()}, so it keeps the global parameters and the log says why.
 *
 * <pre>{@code
 * Krum krum = Krum.builder()
 *     .byzantine(2)
 *     .stagingDirectory(Path.of("/var/tmp/flops"))
 *     .base(FedAvg.builder().minFitLearners(7))
 *     .build();
 * }</pre>
 *
 * <p>Knobs: {@code byzantine} f (default 0); {@code stagingDirectory} (default
 * {@code flops-staging} under {@code java.io.tmpdir}); {@code base}, FedAvg's settings (default
 * {@code FedAvg.builder()}). See {@link MultiKrum} for the mean of the m best.
 *
 * <p>Cost per round, for n updates of P float32 values: disk n × P × 4 bytes (one file, deleted
 * when the round's aggregation ends, also when it is discarded or fails); memory one block of 64 Ki
 * × 4 bytes (256 KiB), n² doubles of distances, plus the result, P × 4 bytes off the heap. Each
 * update's distances to the ones before it are computed as it arrives (reading those back from disk
 * block by block, in double), so the round's end costs one read of the chosen update.
 */
public final class Krum extends ForwardingStrategy {

  private Krum(Builder builder) {
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

    Variant(Krum.Builder builder) {
      super(builder.base());
      this.byzantine = builder.byzantine;
      this.stagingDirectory = builder.stagingDirectory;
    }

    /** Stages the round's updates with their pairwise distances and picks Krum's one. */
    @Override
    protected UpdateCombiner combiner(int round, Parameters global, AveragingKernel kernel) {
      return StagedCombiner.create("Krum", stagingDirectory, round, global, true, this::choose);
    }

    private Parameters choose(UpdateStaging staged, List<double[]> distances) {
      int n = staged.count();
      RobustRules.requireKrumQuorum("Krum", n, byzantine);
      int best = RobustRules.rankedByScore(
          staged, distances, RobustRules.all(n), n - byzantine - 2)[0];
      return staged.combine(new int[] {best}, values -> values[0]);
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

  /** Builds a {@link Krum}; every setter checks its value at once. */
  public static final class Builder extends RobustBuilder.WithByzantine<Builder> {
    private Builder() {}

    /**
     * Builds the strategy.
     *
     * @return the strategy
     */
    public Krum build() {
      return new Krum(this);
    }
  }
}
