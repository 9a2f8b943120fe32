package dev.flops.aggregator.kernel;

import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.Strategy;
import java.util.Arrays;
import java.util.Map;

/**
 * The server optimizers written out from the papers in double precision, element by element, to
 * check the strategies against: FedAvgM (Hsu et al. 2019) and FedAdagrad, FedAdam, FedYogi (Reddi
 * et al. 2021, Algorithm 2, {@code v} starting at {@code tau^2}). The hyper-parameters are read
 * from the strategy's {@code knobs()}, the rule from its class name.
 */
public final class OptimizerReference {

  private final String strategy;
  private final double eta;
  private final double beta1;
  private final double beta2;
  private final double tau;
  private final double[] x;
  /** The velocity (FedAvgM) or the first moment m. */
  private final double[] first;
  /** The second moment v; unused by FedAvgM. */
  private final double[] second;

  /**
   * Starts a reference at the given global model.
   *
   * @param strategy FedAvgM, FedAdagrad, FedAdam or FedYogi
   * @param initial the global model, element by element
   */
  public OptimizerReference(Strategy strategy, double[] initial) {
    this.strategy = strategy.getClass().getSimpleName();
    Map<String, Object> knobs = strategy.knobs();
    this.eta = (Double) knobs.get("server_learning_rate");
    boolean momentum = this.strategy.equals("FedAvgM");
    this.beta1 = (Double) knobs.get(momentum ? "momentum" : "beta1");
    this.beta2 = (Double) knobs.getOrDefault("beta2", 0.0);
    // the kernels apply factors in float32; tau^2 starts v as a float32 too
    this.tau = momentum ? 0 : (float) (double) (Double) knobs.get("tau");
    this.x = initial.clone();
    this.first = new double[initial.length];
    this.second = new double[initial.length];
    Arrays.fill(second, (float) (tau * tau));
  }

  /**
   * Applies one round whose combined update (the weighted mean) is {@code mean}.
   *
   * @param mean the round's mean, element by element
   */
  public void step(double[] mean) {
    for (int i = 0; i < x.length; i++) {
      double d = mean[i] - x[i];
      if (strategy.equals("FedAvgM")) {
        first[i] = beta1 * first[i] + d;
        x[i] += eta * first[i];
        continue;
      }
      first[i] = beta1 * first[i] + (1 - beta1) * d;
      double d2 = d * d;
      second[i] = switch (strategy) {
        case "FedAdagrad" -> second[i] + d2;
        case "FedAdam" -> beta2 * second[i] + (1 - beta2) * d2;
        case "FedYogi" -> second[i] - (1 - beta2) * d2 * Math.signum(second[i] - d2);
        default -> throw new IllegalArgumentException("no reference for " + strategy);
      };
      x[i] += eta * first[i] / (Math.sqrt(second[i]) + tau);
    }
  }

  /** Returns the global model. */
  public double[] x() {
    return x.clone();
  }

  /** Returns the velocity (FedAvgM) or the first moment m. */
  public double[] first() {
    return first.clone();
  }

  /** Returns the second moment v. */
  public double[] second() {
    return second.clone();
  }

  /**
   * Returns all elements, tensor after tensor, as doubles.
   *
   * @param parameters float32 parameters
   * @return the elements
   */
  public static double[] flat(Parameters parameters) {
    double[] values = new double[Math.toIntExact(parameters.elementCount())];
    int at = 0;
    for (Tensor tensor : parameters) {
      for (float value : tensor.toFloatArray()) {
        values[at++] = value;
      }
    }
    return values;
  }
}
