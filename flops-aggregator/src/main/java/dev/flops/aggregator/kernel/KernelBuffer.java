package dev.flops.aggregator.kernel;

import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.MutableParameters;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.IntConsumer;

/**
 * What the kernels' {@link MutableParameters} share: argument checks, the closed state and the
 * loop over tensors. A subclass holds one buffer per non-empty tensor and implements the
 * element-wise steps on tensor {@code t}; it never sees an empty tensor, an unchecked operand, a
 * non-finite factor or another kernel's buffer.
 */
abstract class KernelBuffer implements MutableParameters {
  final Layout layout;
  private boolean closed;

  KernelBuffer(Layout layout) {
    this.layout = layout;
  }

  /** Sets tensor {@code t} to {@code x}: little-endian floats, heap or direct, read-only. */
  abstract void load(int t, ByteBuffer x);

  abstract void assign(int t, KernelBuffer x);

  abstract void axpy(int t, float a, ByteBuffer x);

  abstract void axpy(int t, float a, KernelBuffer x);

  abstract void scale(int t, float a);

  abstract void multiply(int t, KernelBuffer x);

  abstract void square(int t);

  abstract void sqrt(int t);

  abstract void divideBySqrtPlus(int t, KernelBuffer v, float tau);

  abstract void sign(int t);

  /** Copies tensor {@code t} into a new little-endian buffer positioned at 0. */
  abstract ByteBuffer read(int t);

  /** A new zeroed buffer of this kernel with this layout. */
  abstract KernelBuffer newBuffer();

  /** Frees every tensor's memory; called once. */
  abstract void free();

  @Override
  public final long elementCount() {
    return layout.elements();
  }

  @Override
  public final Optional<String> describeMismatch(Parameters other) {
    return layout.describeMismatch(other);
  }

  @Override
  public final Optional<String> describeMismatch(MutableParameters other) {
    if (other == null || other.getClass() != getClass()) {
      return Optional.of(String.format("it is a %s but this buffer is a %s; combine buffers made "
          + "by the same kernel's ops()", other == null ? "null" : other.getClass().getName(),
          getClass().getName()));
    }
    KernelBuffer buffer = (KernelBuffer) other;
    if (buffer.closed) {
      return Optional.of(buffer + " is closed");
    }
    return layout.describeMismatch(buffer.layout);
  }

  @Override
  public final MutableParameters copyFrom(Parameters source) {
    check(source);
    return each(t -> load(t, source.tensors().get(t).data()));
  }

  @Override
  public final MutableParameters copyFrom(MutableParameters source) {
    KernelBuffer x = check(source);
    return x == this ? this : each(t -> assign(t, x));
  }

  @Override
  public final MutableParameters axpy(double a, Parameters x) {
    float factor = factor("a", a);
    check(x);
    return each(t -> axpy(t, factor, x.tensors().get(t).data()));
  }

  @Override
  public final MutableParameters axpy(double a, MutableParameters x) {
    float factor = factor("a", a);
    KernelBuffer buffer = check(x);
    return each(t -> axpy(t, factor, buffer));
  }

  @Override
  public final MutableParameters scale(double a) {
    float factor = factor("a", a);
    checkOpen();
    return each(t -> scale(t, factor));
  }

  @Override
  public final MutableParameters multiply(MutableParameters x) {
    KernelBuffer buffer = check(x);
    return each(t -> multiply(t, buffer));
  }

  @Override
  public final MutableParameters square() {
    checkOpen();
    return each(t -> square(t));
  }

  @Override
  public final MutableParameters sqrt() {
    checkOpen();
    return each(t -> sqrt(t));
  }

  @Override
  public final MutableParameters divideBySqrtPlus(MutableParameters v, double tau) {
    float epsilon = factor("tau", tau);
    if (!(tau > 0)) {
      throw new IllegalArgumentException("tau must be positive (it keeps sqrt(v) + tau away from "
          + "zero), but was " + tau + "; Reddi et al. tune it in [1e-9, 1e-1]");
    }
    KernelBuffer moments = check(v);
    return each(t -> divideBySqrtPlus(t, moments, epsilon));
  }

  @Override
  public final MutableParameters sign() {
    checkOpen();
    return each(t -> sign(t));
  }

  @Override
  public final MutableParameters copy() {
    checkOpen();
    KernelBuffer copy = newBuffer();
    return copy.copyFrom(this);
  }

  @Override
  public final Parameters snapshot() {
    checkOpen();
    List<Tensor> tensors = new ArrayList<>(layout.tensors());
    for (int t = 0; t < layout.tensors(); t++) {
      ByteBuffer data = layout.size(t) > 0 ? read(t)
          : ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN);
      tensors.add(layout.tensor(t, data));
    }
    return new Parameters(tensors);
  }

  @Override
  public final void close() {
    if (!closed) {
      closed = true;
      free();
    }
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "[" + layout + (closed ? ", closed]" : "]");
  }

  /** Runs the step on every non-empty tensor. */
  private MutableParameters each(IntConsumer step) {
    for (int t = 0; t < layout.tensors(); t++) {
      if (layout.size(t) > 0) {
        step.accept(t);
      }
    }
    return this;
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException(this + " is closed; make a new buffer with ops().zeros()");
    }
  }

  private void check(Parameters x) {
    checkOpen();
    Objects.requireNonNull(x, "operand");
    layout.describeMismatch(x).ifPresent(mismatch -> {
      throw new IllegalArgumentException("the operand does not fit the buffer: " + mismatch);
    });
  }

  private KernelBuffer check(MutableParameters x) {
    checkOpen();
    Objects.requireNonNull(x, "operand");
    if (x instanceof KernelBuffer buffer && buffer.closed) {
      throw new IllegalStateException("the operand " + buffer + " is closed");
    }
    describeMismatch(x).ifPresent(mismatch -> {
      throw new IllegalArgumentException("the operand does not fit the buffer: " + mismatch);
    });
    return (KernelBuffer) x;
  }

  /** Refuses a NaN or infinite factor, or one that float32 cannot hold. */
  private static float factor(String name, double value) {
    float f = (float) value;
    if (!Double.isFinite(value) || Float.isInfinite(f)) {
      throw new IllegalArgumentException(String.format("%s must be finite (and within float32's "
          + "range, |%s| <= %s) but was %s", name, name, Float.MAX_VALUE, value));
    }
    return f;
  }
}
