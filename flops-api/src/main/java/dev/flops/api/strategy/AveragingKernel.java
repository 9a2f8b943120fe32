package dev.flops.api.strategy;

import dev.flops.api.Parameters;

/**
 * Computes weighted means of parameters, and through {@link #ops()} the element-wise arithmetic of
 * server optimizers. The aggregator supplies one (native ND4J by default) so that strategies hold
 * the policy and the kernel holds the arithmetic.
 */
public interface AveragingKernel {

  /**
   * Starts an empty weighted sum shaped like the template.
   *
   * @param template parameters whose names, dtypes and shapes the sum takes; values ignored
   * @return a new, empty sum
   */
  WeightedSum begin(Parameters template);

  /**
   * Returns the element-wise operations that server optimizers (FedAvgM, FedAdam...) need, on
   * buffers in this kernel's memory: off-heap for the native kernel, so that an optimizer's step
   * does not copy the model to Java arrays.
   *
   * @return this kernel's operations
   * @throws UnsupportedOperationException if the kernel has none: by default, so that kernels
   *     written before this method still compile; the message names the kernel and the fix
   */
  default TensorOps ops() {
    throw new UnsupportedOperationException(getClass().getName() + " provides no TensorOps; "
        + "use the aggregator's Nd4jAveraging or JavaAveraging kernel, or implement ops()");
  }

  /** A running weighted sum of parameters with the same structure. */
  interface WeightedSum extends AutoCloseable {

    /**
     * Adds {@code weight * parameters} to the sum.
     *
     * @param parameters values with the template's structure
     * @param weight a positive, finite weight
     * @throws IllegalArgumentException if the structure differs or the weight is not positive,
     *     or is one the kernel does not sum (an exact kernel may take integer weights only)
     * @throws dev.flops.api.InvalidResultException if a value lies outside what the kernel can
     *     sum; the sum is then unchanged, and the aggregator refuses the learner's update
     */
    void add(Parameters parameters, double weight);

    /**
     * Returns the number of parameter sets added.
     *
     * @return the count
     */
    int count();

    /**
     * Returns the sum of the weights added.
     *
     * @return the total weight
     */
    double totalWeight();

    /**
     * Returns the weighted mean, {@code sum / totalWeight}, and ends the sum: a kernel may scale
     * its accumulators in place and hand their memory to the result, so that the new global model
     * costs no memory beyond the sum's. Nothing can be added afterwards.
     *
     * @return the mean, as float32 tensors with the template's structure; it stays valid after
     *     {@link #close()}
     * @throws IllegalStateException if nothing was added, or the mean was already taken
     */
    Parameters mean();

    /** Frees the sum's buffers. */
    @Override
    void close();
  }
}
