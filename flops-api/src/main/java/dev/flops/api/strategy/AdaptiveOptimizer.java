package dev.flops.api.strategy;

/**
 * The hyper-parameters of an adaptive server optimizer, after Reddi et al., "Adaptive Federated
 * Optimization" (ICLR 2021), Algorithm 2: FedAdagrad, FedAdam or FedYogi, told apart by how the
 * second moment {@code v} follows the squared pseudo-gradient.
 * {@link AggregationFunctions#adaptiveStep} applies one step.
 *
 * @param rule how the second moment is updated
 * @param learningRate the server learning rate {@code eta}, positive and finite
 * @param beta1 the first moment's decay, in {@code [0, 1)}
 * @param beta2 the second moment's decay, in {@code [0, 1)}; FedAdagrad does not use it
 * @param tau the degree of adaptivity added to {@code sqrt(v)}, positive and finite
 */
public record AdaptiveOptimizer(Rule rule, double learningRate, double beta1, double beta2,
    double tau) {

  /** How the second moment {@code v} follows the squared pseudo-gradient {@code d^2}. */
  public enum Rule {
    /** FedAdagrad: {@code v += d^2}. */
    ADAGRAD,
    /** FedAdam: {@code v = beta2 v + (1 - beta2) d^2}. */
    ADAM,
    /** FedYogi: {@code v -= (1 - beta2) d^2 sign(v - d^2)}. */
    YOGI
  }

  /**
   * Validates every value at once.
   *
   * @throws NullPointerException if {@code rule} is null
   * @throws IllegalArgumentException naming every value out of its range
   */
  public AdaptiveOptimizer {
    if (rule == null) {
      throw new NullPointerException("rule (ADAGRAD, ADAM or YOGI)");
    }
    StringBuilder bad = new StringBuilder();
    if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
      bad.append("; learningRate must be positive and finite but was ").append(learningRate);
    }
    if (!(beta1 >= 0 && beta1 < 1)) {
      bad.append("; beta1 must be in [0, 1) but was ").append(beta1);
    }
    if (!(beta2 >= 0 && beta2 < 1)) {
      bad.append("; beta2 must be in [0, 1) but was ").append(beta2);
    }
    if (!(tau > 0) || Double.isInfinite(tau)) {
      bad.append("; tau must be positive and finite (Reddi et al. tune it in [1e-9, 1e-1]) but "
          + "was ").append(tau);
    }
    if (bad.length() > 0) {
      throw new IllegalArgumentException("bad " + rule + " optimizer" + bad);
    }
  }

  /**
   * Returns FedAdam with the given server learning rate and Reddi et al.'s usual moments
   * ({@code beta1 = 0.9}, {@code beta2 = 0.99}, {@code tau = 1e-3}).
   *
   * @param learningRate the server learning rate, positive and finite
   * @return the optimizer
   * @throws IllegalArgumentException if the learning rate is out of range
   */
  public static AdaptiveOptimizer adam(double learningRate) {
    return new AdaptiveOptimizer(Rule.ADAM, learningRate, 0.9, 0.99, 1e-3);
  }
}
