package dev.flops.aggregator.kernel;

import dev.flops.api.Parameters;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The direct buffers behind the results a kernel returned (each round's mean, which becomes the
 * next global parameters), so that the aggregator can free a result as soon as a later round has
 * replaced it.
 *
 * <p>Why: a global model lives for a round, so the collector promotes the small Java object that
 * owns its memory to the old generation; after the next round nothing references it, but its
 * memory (the model's size, off the heap) comes back only at an old-generation collection, which
 * a small heap needs rarely. Superseded models then pile up to the JVM's direct-memory limit
 * before the JDK collects: the aggregator's memory grows by one model a round (measured: 0.4 MB a
 * round over 50 rounds with 1000 learners; benchmarks/README.md, issue 13).
 *
 * <p>Only the aggregator's training loop frees, and only what no one can still read: it asks the
 * strategy ({@link dev.flops.api.strategy.Strategy#keepsGlobalParameters()}), keeps the current
 * and the best round's parameters, and first stops every download of the superseded ones. Results
 * it does not free it {@linkplain #keepOnly forgets}, leaving them to the collector as before.
 *
 * <p>Thread safety: every method may be called from any thread.
 */
public final class ResultMemory {
  private static final sun.misc.Unsafe UNSAFE = unsafe();

  private final Map<Parameters, List<ByteBuffer>> tracked = new IdentityHashMap<>();

  /** Creates an empty record; each kernel instance has one. */
  ResultMemory() {}

  /**
   * Records the buffers a result returned to a strategy is made of.
   *
   * @param result the parameters returned; tracked by identity
   * @param buffers the direct buffers its tensors view, each allocated by
   *     {@link ByteBuffer#allocateDirect} and owned by nothing else
   */
  synchronized void track(Parameters result, List<ByteBuffer> buffers) {
    for (ByteBuffer buffer : buffers) {
      if (!buffer.isDirect()) {
        throw new IllegalArgumentException("only direct buffers are tracked: " + buffer);
      }
    }
    tracked.put(result, List.copyOf(buffers));
  }

  /**
   * Frees the memory of a result of this kernel now. The caller guarantees that nothing reads
   * the parameters any more: reading them afterwards reads freed memory.
   *
   * @param result parameters a strategy got from this kernel; anything else is ignored
   * @return whether they were this kernel's result and are now freed
   */
  public synchronized boolean free(Parameters result) {
    List<ByteBuffer> buffers = tracked.remove(result);
    if (buffers == null) {
      return false;
    }
    buffers.forEach(ResultMemory::freeNow);
    return true;
  }

  /**
   * Frees a direct buffer's memory now rather than when it is collected; the caller guarantees
   * that nothing reads it (or a view of it) any more.
   *
   * @param buffer a buffer from {@link ByteBuffer#allocateDirect}, not a slice or duplicate
   */
  static void freeNow(ByteBuffer buffer) {
    UNSAFE.invokeCleaner(buffer);
  }

  /**
   * Whether {@code parameters} are a result of this kernel that it still tracks.
   *
   * @param parameters any parameters
   * @return true if {@link #free} would free them
   */
  public synchronized boolean tracks(Parameters parameters) {
    return tracked.containsKey(parameters);
  }

  /**
   * Forgets every result except the given ones, without freeing anything: the collector frees
   * them once they are unreachable, as it does any direct buffer.
   *
   * @param live the results to go on tracking (nulls and untracked ones are ignored)
   */
  public synchronized void keepOnly(Parameters... live) {
    tracked.keySet().removeIf(result -> !containsSame(live, result));
  }

  private static boolean containsSame(Parameters[] live, Parameters result) {
    for (Parameters parameters : live) {
      if (parameters == result) {
        return true;
      }
    }
    return false;
  }

  /**
   * Returns the number of results tracked.
   *
   * @return the count
   */
  public synchronized int tracked() {
    return tracked.size();
  }

  private static sun.misc.Unsafe unsafe() {
    // sun.misc.Unsafe.invokeCleaner (JDK 9+, module jdk.unsupported) is the JDK's way to free a
    // direct buffer before it is collected; netty frees its direct buffers the same way.
    try {
      Field field = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
      field.setAccessible(true);
      return (sun.misc.Unsafe) field.get(null);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }
}
