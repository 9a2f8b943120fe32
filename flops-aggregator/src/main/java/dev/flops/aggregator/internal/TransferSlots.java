package dev.flops.aggregator.internal;

import dev.flops.proto.codec.ParameterDecoder;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.function.Consumer;

/**
 * A bounded set of transfers running at once. For uploads: the updates the aggregator buffers. An upload takes a slot once its header
 * is accepted and gives it back when its update is folded or refused; while every slot is taken,
 * the upload waits with its chunks unread, so gRPC flow control holds them back on the learner's
 * side. The aggregator's memory for updates is thus {@code capacity × model}, however many learners
 * upload.
 *
 * <p>For downloads the same pool bounds how many learners are being streamed to at once, each
 * with at most one chunk queued in gRPC, so that a thousand learners asking at the same moment
 * do not queue a thousand chunks; a download waiting for a slot has sent nothing yet.
 *
 * <p>An upload slot keeps its direct buffers for reuse, so updates are decoded off-heap, where the native
 * kernel folds them in place, and no buffer is allocated per upload once the slots are warm.
 * When an allocation fails (the JVM's direct memory is exhausted) the slot drops all its buffers,
 * so that what it held can be collected, and the caller releases the slot as for any refusal.
 */
public final class TransferSlots {

  /** Allocates a slot's buffers; replaceable so that tests can make an allocation fail. */
  @FunctionalInterface
  public interface Allocator {
    /**
     * Allocates a buffer.
     *
     * @param bytes its capacity
     * @return a buffer of that capacity
     * @throws OutOfMemoryError if the memory is exhausted
     */
    ByteBuffer allocate(int bytes);
  }

  private final int capacity;
  private volatile Allocator allocator = ByteBuffer::allocateDirect;
  private final Deque<Slot> free = new ArrayDeque<>();
  private final Deque<Consumer<Slot>> waiting = new ArrayDeque<>();
  private int created;
  private int held;
  private int mostHeld;
  private int mostWaiting;

  /**
   * Creates the pool.
   *
   * @param capacity the most updates buffered at once, at least 1
   */
  public TransferSlots(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be at least 1 but was " + capacity);
    }
    this.capacity = capacity;
  }

  /**
   * Hands a slot to {@code onGranted}: at once (on this thread) if one is free, else when one is
   * released (on the releasing thread), in the order the requests came.
   *
   * @return a handle that withdraws the request, or releases the slot if it was already granted
   */
  public Request acquire(Consumer<Slot> onGranted) {
    Request request = new Request(onGranted);
    Slot slot;
    synchronized (this) {
      slot = take();
      if (slot == null) {
        waiting.add(request);
        mostWaiting = Math.max(mostWaiting, waiting.size());
        return request;
      }
    }
    request.accept(slot);
    return request;
  }

  private Slot take() {
    Slot slot = free.poll();
    if (slot == null && created < capacity) {
      slot = new Slot(this);
      created++;
    }
    if (slot != null) {
      held++;
      mostHeld = Math.max(mostHeld, held);
    }
    return slot;
  }

  private void release(Slot slot) {
    Consumer<Slot> next;
    synchronized (this) {
      next = waiting.poll();
      if (next == null) {
        held--;
        free.push(slot);
        return;
      }
    }
    next.accept(slot);
  }

  /**
   * Replaces how slots allocate their buffers (default {@link ByteBuffer#allocateDirect}); for
   * tests that simulate running out of direct memory. Applies to allocations from now on.
   *
   * @param allocator the allocator
   */
  public void allocator(Allocator allocator) {
    this.allocator = java.util.Objects.requireNonNull(allocator, "allocator");
  }

  /** The most updates buffered at the same time so far. */
  public synchronized int mostHeld() {
    return mostHeld;
  }

  /** The most uploads that waited for a slot at the same time so far. */
  public synchronized int mostWaiting() {
    return mostWaiting;
  }

  /** The number of slots held now. */
  public synchronized int held() {
    return held;
  }

  /** The most updates buffered at once. */
  public int capacity() {
    return capacity;
  }

  /** One upload's claim on a slot. */
  public final class Request implements Consumer<Slot> {
    private final Consumer<Slot> onGranted;
    private Slot slot;
    private boolean cancelled;

    private Request(Consumer<Slot> onGranted) {
      this.onGranted = onGranted;
    }

    @Override
    public void accept(Slot granted) {
      boolean taken;
      synchronized (this) {
        taken = !cancelled;
        if (taken) {
          slot = granted;
        }
      }
      if (taken) {
        onGranted.accept(granted);
      } else {
        release(granted);
      }
    }

    /** Gives the slot back, or withdraws the request if it is still waiting. Idempotent. */
    public void close() {
      Slot toRelease;
      synchronized (this) {
        if (cancelled) {
          return;
        }
        cancelled = true;
        toRelease = slot;
        slot = null;
      }
      if (toRelease != null) {
        release(toRelease);
      } else {
        synchronized (TransferSlots.this) {
          waiting.remove(this);
        }
      }
    }
  }

  /** Reusable direct buffers for one update, one per tensor, grown on demand. */
  public static final class Slot implements ParameterDecoder.BufferSource {
    private final List<ByteBuffer> buffers = new ArrayList<>();
    private final TransferSlots pool;

    private Slot(TransferSlots pool) {
      this.pool = pool;
    }

    @Override
    public ByteBuffer bufferFor(int index, int bytes) {
      while (buffers.size() <= index) {
        buffers.add(null);
      }
      ByteBuffer buffer = buffers.get(index);
      if (buffer == null || buffer.capacity() < bytes) {
        buffers.set(index, null); // the smaller buffer can go before the larger one is taken
        try {
          buffer = pool.allocator.allocate(bytes);
        } catch (OutOfMemoryError e) {
          buffers.clear(); // let the collector have what this slot held
          throw e;
        }
        buffers.set(index, buffer);
      }
      return buffer.clear();
    }
  }
}
