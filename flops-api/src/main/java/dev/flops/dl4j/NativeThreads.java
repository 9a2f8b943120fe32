package dev.flops.dl4j;

import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * Sizes the native threads ND4J computes with in this process: OpenMP, ND4J's own native thread
 * pool and OpenBLAS.
 *
 * <p>Why: ND4J sizes every process to all the machine's cores. Several learner processes on one
 * machine then each start a thread per core and spin against each other; on a 2-core machine three
 * learner JVMs ran a round 10 to 15 times slower than with one native thread each. Give each
 * process {@code cores / processes} threads ({@link #perProcess}). The environment variable
 * {@code OMP_NUM_THREADS}, read when ND4J loads, does the same from outside the JVM; this class
 * does it from inside, at any time, and the setting holds for the operations that follow.
 *
 * <p>Thread rules: OpenBLAS's thread count is process-wide, but OpenMP keeps its own per thread,
 * so call {@link #limit} on the thread that will train (a learner runs its tasks on the thread
 * that calls {@code Learner.run()}), before training starts, not while another thread computes.
 */
public final class NativeThreads {

  /** The most threads {@link #limit} accepts. */
  public static final int MAX_THREADS = 1024;

  private NativeThreads() {}

  /**
   * Sets the native threads ND4J uses on the calling thread (OpenMP) and in the process
   * (OpenBLAS, ND4J's thread pool).
   *
   * @param threads from 1 to {@link #MAX_THREADS}
   * @return the threads ND4J reports afterwards (its OpenMP maximum), for the log
   * @throws IllegalArgumentException if {@code threads} is out of range
   */
  public static int limit(int threads) {
    if (threads < 1 || threads > MAX_THREADS) {
      throw new IllegalArgumentException(String.format(
          "native threads must be from 1 to %d but was %d; give each process about its cores "
              + "divided by the processes computing on the machine", MAX_THREADS, threads));
    }
    Nd4j.getExecutioner(); // loads the backend first: the native ops need its properties
    NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(threads);
    Nd4j.getEnvironment().setMaxThreads(threads);
    Nd4j.getEnvironment().setMaxMasterThreads(threads);
    Nd4j.factory().blas().setMaxThreads(threads);
    return current();
  }

  /**
   * Returns the native threads ND4J uses now on the calling thread.
   *
   * @return ND4J's OpenMP maximum number of threads for the calling thread
   */
  public static int current() {
    Nd4j.getExecutioner();
    return NativeOpsHolder.getInstance().getDeviceNativeOps().ompGetMaxThreads();
  }

  /**
   * Returns a fair share of the machine's cores for one of {@code processes} computing processes.
   *
   * @param cores the machine's cores (e.g. {@link Runtime#availableProcessors()}), at least 1
   * @param processes the processes sharing them, at least 1
   * @return {@code max(1, cores / processes)}
   * @throws IllegalArgumentException if an argument is below 1
   */
  public static int perProcess(int cores, long processes) {
    if (cores < 1 || processes < 1) {
      throw new IllegalArgumentException(String.format(
          "cores and processes must be at least 1 but were %d and %d", cores, processes));
    }
    return (int) Math.max(1, cores / processes);
  }
}
