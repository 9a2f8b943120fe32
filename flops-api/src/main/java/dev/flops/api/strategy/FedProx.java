package dev.flops.api.strategy;

import dev.flops.api.Config;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * FedProx (Li, Sahu, Zaheer, Sanjabi, Talwalkar and Smith, "Federated Optimization in
 * Heterogeneous Networks", MLSys 2020): FedAvg whose learners minimise their local loss plus a
 * proximal term that keeps them near the round's global model {@code w_g}:
 *
 * <pre>
 *   min_w  F_k(w) + (μ/2)·‖w − w_g‖²      i.e. gradient g(w) + μ·(w − w_g)
 * </pre>
 *
 * which limits how far learners with very different data (or more local steps) drift apart. The
 * aggregator side is FedAvg's; the only change is that every fit config carries
 * {@value #PROXIMAL_MU} = {@code μ}, and the learner's trainer adds the term: {@link
 * dev.flops.dl4j.Dl4jTrainer} does, and any {@link dev.flops.api.LocalTrainer} can read the key.
 * A trainer that ignores it trains as under FedAvg.
 *
 * <pre>{@code
 * FedProx strategy = FedProx.builder()
 *     .proximalMu(0.1)
 *     .base(FedAvg.builder().fitConfig(round -> Config.of("local_epochs", 2)))
 *     .build();
 * }</pre>
 *
 * <p><b>Knobs</b> ({@link #knobs()}: FedAvg's plus {@code proximal_mu}): {@code μ}, required, no
 * default (as in Flower); Li et al. pick it from {0.001, 0.01, 0.1, 1} per data set.
 *
 * <p><b>State and memory.</b> Nothing beyond FedAvg's on the aggregator. A DL4J learner keeps one
 * copy of the global parameters, and one scratch buffer, while it fits.
 */
public final class FedProx extends ForwardingStrategy {

  /**
   * Fit config key: the proximal term's weight {@code μ} (a number, at least 0; 0 or absent means
   * no proximal term).
   */
  public static final String PROXIMAL_MU = "proximal_mu";

  private FedProx(Builder builder) {
    super(new Proximal(builder.base(), builder.proximalMu));
  }

  /**
   * Returns a builder with FedAvg's defaults; {@link Builder#proximalMu} must be set.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /** The FedAvg variant inside: one hook, {@link #fitConfig}. */
  private static final class Proximal extends FedAvg {
    private final double proximalMu;

    Proximal(FedAvg.Builder base, double proximalMu) {
      super(base);
      this.proximalMu = proximalMu;
    }

    /**
     * Adds {@value #PROXIMAL_MU} to the base's fit config.
     *
     * @throws IllegalStateException if the base's fit config sets another {@code proximal_mu}
     */
    @Override
    protected Config fitConfig(int round) {
      Config config = super.fitConfig(round);
      if (config.contains(PROXIMAL_MU) && config.getDouble(PROXIMAL_MU, 0) != proximalMu) {
        throw new IllegalStateException(String.format("the fitConfig function of FedProx's base "
            + "sets %s = %s for round %d, but FedProx's proximalMu is %s; set it in one place: "
            + "FedProx.builder().proximalMu(...)", PROXIMAL_MU, config.values().get(PROXIMAL_MU),
            round, proximalMu));
      }
      return config.with(PROXIMAL_MU, proximalMu);
    }

    @Override
    public Map<String, Object> knobs() {
      Map<String, Object> knobs = new LinkedHashMap<>(super.knobs());
      knobs.put(PROXIMAL_MU, proximalMu);
      return knobs;
    }
  }

  /**
   * Builds a {@link FedProx}: {@code proximalMu} (required) and {@code base} (FedAvg's
   * settings); every setter checks its value at once.
   */
  public static final class Builder extends ForwardingStrategy.Builder<Builder> {
    private Double proximalMu;

    private Builder() {}

    @Override
    Builder self() {
      return this;
    }

    /**
     * Sets the weight {@code μ} of the proximal term (required).
     *
     * @param mu positive and finite; Li et al. use 0.001 to 1
     * @return this builder
     * @throws IllegalArgumentException if {@code mu} is not in (0, inf)
     */
    public Builder proximalMu(double mu) {
      this.proximalMu = ServerOptimizer.positiveFinite("proximalMu", mu);
      return this;
    }

    /**
     * Builds the strategy.
     *
     * @return the strategy
     * @throws IllegalStateException if {@code proximalMu} was not set
     */
    public FedProx build() {
      if (proximalMu == null) {
        throw new IllegalStateException("FedProx needs proximalMu(mu), the weight of the "
            + "proximal term, e.g. FedProx.builder().proximalMu(0.01) (Li et al. use 0.001 to 1)");
      }
      return new FedProx(this);
    }
  }
}
