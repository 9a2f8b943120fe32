package dev.flops.aggregator;

import dev.flops.api.FederatedModel;
import dev.flops.api.Parameters;

/** A model that is nothing but its parameters: what the aggregator's model copy needs to be. */
final class ArrayModel implements FederatedModel {
  private volatile Parameters parameters;
  private volatile int sets;

  ArrayModel(Parameters initial) {
    this.parameters = initial;
  }

  @Override
  public Parameters getParameters() {
    return parameters;
  }

  @Override
  public void setParameters(Parameters parameters) {
    this.parameters.describeMismatch(parameters).ifPresent(m -> {
      throw new IllegalArgumentException(m);
    });
    this.parameters = parameters;
    sets++;
  }

  int sets() {
    return sets;
  }
}
