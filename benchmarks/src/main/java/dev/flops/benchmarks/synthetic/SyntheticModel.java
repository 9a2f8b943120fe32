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

  /**
   * Returns {@code false}, so that the harness's aggregator frees superseded global models as an
   * application's DL4J model lets it. True of this model, though it keeps what it is given: it
   * keeps only the latest parameters, and in the harness nothing reads them once replaced (the
   * aggregator reads its model before the first round only; a learner's trainer reads the current
   * parameters within a task).
   */
  @Override
  public boolean keepsParameters() {
    return false;
  }

  @Override
  public void setParameters(Parameters parameters) {
    this.parameters = Objects.requireNonNull(parameters, "parameters");
  }
}
