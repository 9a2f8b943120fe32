package dev.flops.aggregator.kernel;

import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;

/** Checks shared by the kernels' weighted sums. */
final class Sums {

  private Sums() {}

  static void checkTemplate(Parameters template) {
    for (Tensor tensor : template) {
      if (tensor.dtype() != DType.FLOAT32) {
        throw new IllegalArgumentException(
            "averaging supports FLOAT32 tensors only, but " + tensor.spec() + " is not");
      }
    }
  }

  static void checkAdd(Parameters template, Parameters parameters, double weight) {
    checkWeight(weight);
    template.describeMismatch(parameters).ifPresent(mismatch -> {
      throw new IllegalArgumentException("cannot add parameters to the sum: " + mismatch);
    });
  }

  static void checkWeight(double weight) {
    if (!(weight > 0) || Double.isInfinite(weight)) {
      throw new IllegalArgumentException("weight must be positive and finite but was " + weight);
    }
  }

  static void checkOpen(boolean ended) {
    if (ended) {
      throw new IllegalStateException(
          "the weighted sum has ended (mean() was taken or it was closed); begin a new one");
    }
  }

  static void checkNotEmpty(int count) {
    if (count == 0) {
      throw new IllegalStateException("the weighted sum is empty: add parameters before mean()");
    }
  }
}
