package dev.flops.api.strategy;

import dev.flops.api.Parameters;

/**
 * Makes the {@link MutableParameters} buffers that server optimizers compute in: FedAvgM's server
 * momentum (Hsu et al., "Measuring the Effects of Non-Identical Data Distribution for Federated
 * Visual Classification", 2019) and the moments of FedAdagrad, FedAdam and FedYogi (Reddi et al.,
 * "Adaptive Federated Optimization", ICLR 2021). Obtained from {@link AveragingKernel#ops()}, so
 * that a strategy's optimizer runs where its averaging runs (off the Java heap with the native
 * kernel).
 *
 * <p>Thread-safe: buffers may be made from any thread. Every buffer belongs to its caller, who
 * must close it.
 */
public interface TensorOps {

  /**
   * Allocates a buffer of zeros shaped like the template.
   *
   * @param template parameters whose names and shapes the buffer takes; values ignored; FLOAT32
   *     tensors only
   * @return a new zeroed buffer, owned by the caller, who must close it
   * @throws IllegalArgumentException if a tensor is not FLOAT32
   */
  MutableParameters zeros(Parameters template);

  /**
   * Allocates a buffer holding a copy of the values.
   *
   * @param source the values; FLOAT32 tensors only; read, not kept
   * @return a new buffer, owned by the caller, who must close it
   * @throws IllegalArgumentException if a tensor is not FLOAT32
   */
  default MutableParameters copyOf(Parameters source) {
    MutableParameters buffer = zeros(source);
    try {
      return buffer.copyFrom(source);
    } catch (RuntimeException e) {
      buffer.close();
      throw e;
    }
  }
}
