package dev.flops.aggregator.kernel;

/**
 * A kernel that records the direct buffers of the results it returns ({@link ResultMemory}), so
 * that the aggregator can free a superseded global model at once. flops' off-heap kernels
 * ({@link Nd4jAveraging}, {@link ExactAveraging}) are; a kernel of the application's is not, and
 * its results are left to the garbage collector.
 */
public interface ResultOwner {

  /**
   * Returns this kernel's record of the results it returned.
   *
   * @return the record; the same object for the kernel's lifetime
   */
  ResultMemory results();
}
