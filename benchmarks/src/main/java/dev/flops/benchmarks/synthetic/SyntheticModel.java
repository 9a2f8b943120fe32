package dev.flops.benchmarks.synthetic;

import dev.flops.api.FederatedModel;
import dev.flops.api.Parameters;
import java.util.List;
import java.util.Objects;

/**
 * A model that is nothing but its parameters. It keeps the {@link Parameters} it is given (they
 * are immutable), so setting them costs no copy.
 */
public final class SyntheticModel implements FederatedModel {
  private volatile Parameters parameters;

  /**
   * Creates a model holding {@code parameters}.
   *
   * @param parameters the initial parameters
   */
  public SyntheticModel(Parameters parameters) {
    this.parameters = Objects.requireNonNull(parameters, "parameters");
  }

  /**
   * Creates a model with no tensors yet: a learner's copy, which receives its parameters from the
   * aggregator before every task.
   *
   * @return an empty model
   */
  public static SyntheticModel empty() {
    return new SyntheticModel(new Parameters(List.of()));
  }

  @Override
  public Parameters getParameters() {
    return parameters;
  }

  @Override
  public void setParameters(Parameters parameters) {
    this.parameters = Objects.requireNonNull(parameters, "parameters");
  }
}
