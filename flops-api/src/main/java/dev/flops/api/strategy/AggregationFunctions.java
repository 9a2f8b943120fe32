package dev.flops.api.strategy;

import dev.flops.api.Parameters;
import java.util.List;
import java.util.Objects;

/**
 * The averaging maths of strategies as small free functions, apart from the policy that decides
 * when to call them (as Flower keeps {@code aggregate()} apart from its strategies). They compute
 * through an {@link AveragingKernel} and its {@link MutableParameters}, so they run on the native
 * off-heap path when the aggregator's kernel is ND4J.
 *
 * <p>Conventions: {@code x} is the global model, {@code delta} the pseudo-gradient
 * {@code mean(x_i) - x} of a round (the direction the learners moved; Reddi et al.'s
 * {@code Delta_t}). The functions change the buffers they are given, allocate only short-lived
 * scratch buffers that they close, and are not thread-safe for the same buffers.
 */
public final class AggregationFunctions {

  private AggregationFunctions() {}

  /**
   * Returns the weighted mean {@code sum(w_i x_i) / sum(w_i)}, FedAvg's aggregate (McMahan et
   * al., "Communication-Efficient Learning of Deep Networks from Decentralized Data", 2017).
   *
   * @param kernel the kernel that sums
   * @param values parameters of one structure, FLOAT32, at least one
   * @param weights one positive, finite weight per value (usually its number of examples)
   * @return the mean, FLOAT32 with the values' structure
   * @throws IllegalArgumentException if the lists are empty or of different sizes, a structure
   *     differs or a weight is not positive and finite
   */
  public static Parameters weightedMean(AveragingKernel kernel, List<Parameters> values,
      List<? extends Number> weights) {
    Objects.requireNonNull(kernel, "kernel");
    if (values.isEmpty() || values.size() != weights.size()) {
      throw new IllegalArgumentException(String.format("a weighted mean needs one weight per "
          + "value and at least one value, but got %d values and %d weights", values.size(),
          weights.size()));
    }
    try (AveragingKernel.WeightedSum sum = kernel.begin(values.get(0))) {
      for (int i = 0; i < values.size(); i++) {
        sum.add(values.get(i), weights.get(i).doubleValue());
      }
      return sum.mean();
    }
  }

  /**
   * Returns a new buffer holding the pseudo-gradient {@code mean - x}.
   *
   * @param mean the round's aggregate, of {@code x}'s structure
   * @param x the global model before the round
   * @return a new buffer of {@code x}'s kernel, owned by the caller, who must close it
   * @throws IllegalArgumentException if the structure differs
   */
  public static MutableParameters pseudoGradient(Parameters mean, MutableParameters x) {
    MutableParameters delta = x.copy();
    try {
      return delta.scale(-1).axpy(1, mean);
    } catch (RuntimeException e) {
      delta.close();
      throw e;
    }
  }

  /**
   * Applies one step of server momentum, FedAvgM (Hsu et al., "Measuring the Effects of
   * Non-Identical Data Distribution for Federated Visual Classification", 2019):
   * {@code v = momentum v + delta}, then {@code x = x + learningRate v}. With momentum 0 and
   * learning rate 1 the step is FedAvg's ({@code x = mean}).
   *
   * @param x the global model; updated
   * @param velocity the momentum buffer {@code v}, zeros before the first round; updated
   * @param delta the round's pseudo-gradient; not changed
   * @param learningRate the server learning rate, positive and finite (Hsu et al. use 1)
   * @param momentum the momentum {@code beta}, in {@code [0, 1)}
   * @throws IllegalArgumentException if a factor is out of range, or the buffers differ in
   *     structure or kernel, or one is closed; then no buffer has changed
   */
  public static void momentumStep(MutableParameters x, MutableParameters velocity,
      MutableParameters delta, double learningRate, double momentum) {
    if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
      throw new IllegalArgumentException(
          "the server learning rate must be positive and finite but was " + learningRate);
    }
    if (!(momentum >= 0 && momentum < 1)) {
      throw new IllegalArgumentException(
          "the server momentum must be in [0, 1) but was " + momentum);
    }
    checkOperands(x, velocity, delta);
    velocity.scale(momentum).axpy(1, delta);
    x.axpy(learningRate, velocity);
  }

  /**
   * Applies one step of FedAdagrad, FedAdam or FedYogi (Reddi et al., "Adaptive Federated
   * Optimization", ICLR 2021, Algorithm 2, without bias correction as in the paper):
   * {@code m = beta1 m + (1 - beta1) delta}; {@code v} by the optimizer's {@link
   * AdaptiveOptimizer.Rule}; {@code x = x + eta m / (sqrt(v) + tau)}.
   *
   * @param optimizer the rule and hyper-parameters
   * @param x the global model; updated
   * @param m the first moment, zeros before the first round; updated
   * @param v the second moment, non-negative (Reddi et al. start it at {@code tau^2}); updated
   * @param delta the round's pseudo-gradient; not changed
   * @throws IllegalArgumentException if the buffers differ in structure or kernel, or one is
   *     closed; then no buffer has changed
   */
  public static void adaptiveStep(AdaptiveOptimizer optimizer, MutableParameters x,
      MutableParameters m, MutableParameters v, MutableParameters delta) {
    checkOperands(x, m, v, delta);
    double beta2 = optimizer.beta2();
    try (MutableParameters scratch = delta.copy().square()) {
      m.scale(optimizer.beta1()).axpy(1 - optimizer.beta1(), delta);
      switch (optimizer.rule()) {
        case ADAGRAD -> v.axpy(1, scratch);
        case ADAM -> v.scale(beta2).axpy(1 - beta2, scratch);
        case YOGI -> {
          try (MutableParameters sign = v.copy().axpy(-1, scratch).sign()) {
            v.axpy(-(1 - beta2), sign.multiply(scratch));
          }
        }
        default -> throw new AssertionError(optimizer.rule());
      }
      x.axpy(optimizer.learningRate(), scratch.copyFrom(m).divideBySqrtPlus(v, optimizer.tau()));
    }
  }

  /** Refuses operands that would fail half-way through a step, before any buffer changes. */
  private static void checkOperands(MutableParameters x, MutableParameters... others) {
    Objects.requireNonNull(x, "x");
    x.describeMismatch(x).ifPresent(closed -> {
      throw new IllegalArgumentException("the global model's buffer: " + closed);
    });
    for (MutableParameters other : others) {
      x.describeMismatch(other).ifPresent(mismatch -> {
        throw new IllegalArgumentException("the buffers of one step must come from one kernel "
            + "with the global model's structure: " + mismatch);
      });
    }
  }
}
