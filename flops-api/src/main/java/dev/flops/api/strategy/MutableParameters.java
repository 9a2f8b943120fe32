package dev.flops.api.strategy;

import dev.flops.api.Parameters;
import java.util.Optional;

/**
 * A mutable float32 buffer shaped like a model's parameters (the same tensor names, in the same
 * order, with the same shapes), on which server optimizers do their arithmetic in place: a global
 * model being updated, a server momentum, Adam's moments. Made by a kernel's {@link TensorOps};
 * the native kernel keeps it off the Java heap and works on it without copying it to Java arrays.
 *
 * <p>Every operation is element-wise over all tensors, changes this buffer and returns it, so
 * steps chain: {@code m.scale(beta1).axpy(1 - beta1, delta)} is {@code m = beta1 m + (1 - beta1)
 * delta}. Factors are {@code double} and applied in float32 (the native kernel calls BLAS
 * {@code saxpy}/{@code sscal}). An operand must have this buffer's structure: a {@link Parameters}
 * of FLOAT32 tensors with the same names and shapes, or a {@code MutableParameters} of the same
 * kernel and structure; anything else is refused before any element changes.
 *
 * <p><b>Ownership and lifetime.</b> The caller that made a buffer owns it and must
 * {@linkplain #close() close} it: the native kernel's memory is outside the Java heap, where the
 * garbage collector does not see its size. After {@code close()} every method but {@code close()}
 * throws {@link IllegalStateException}. {@link #snapshot()} returns a copy that stays valid after
 * {@code close()}.
 *
 * <p><b>Threads.</b> Not thread-safe: one thread at a time uses a buffer (the aggregator calls a
 * strategy from one thread at a time). The native kernel may itself run one operation on several
 * cores.
 *
 * <p><b>Values.</b> Operations do not check the values they produce: {@link #sqrt()} of a negative
 * element gives NaN, and float32 may overflow to infinity. The second moments of Adam-style
 * optimizers are sums of squares, so they stay non-negative.
 *
 * @see TensorOps
 * @see AggregationFunctions
 */
public interface MutableParameters extends AutoCloseable {

  /**
   * Returns the number of float32 elements over all tensors.
   *
   * @return the element count
   */
  long elementCount();

  /**
   * Tells whether {@code other} has this buffer's structure: the same tensor names, in the same
   * order, with the same shapes, all FLOAT32.
   *
   * @param other parameters to compare with
   * @return a description of the first difference, or empty if they fit
   */
  Optional<String> describeMismatch(Parameters other);

  /**
   * Tells whether {@code other} can be an operand of this buffer: a buffer of the same kernel, with
   * the same structure, not closed. Functions that change several buffers check this first, so
   * that a wrong operand changes none of them.
   *
   * @param other the buffer to compare with
   * @return a description of the first difference, or empty if it fits
   */
  Optional<String> describeMismatch(MutableParameters other);

  /**
   * Sets {@code this = source}.
   *
   * @param source values of this buffer's structure; read, not kept
   * @return this buffer
   * @throws IllegalArgumentException if the structure differs
   * @throws IllegalStateException if this buffer is closed
   */
  MutableParameters copyFrom(Parameters source);

  /**
   * Sets {@code this = source}.
   *
   * @param source a buffer of the same kernel and structure
   * @return this buffer
   * @throws IllegalArgumentException if the structure or kernel differs
   * @throws IllegalStateException if either buffer is closed
   */
  MutableParameters copyFrom(MutableParameters source);

  /**
   * Sets {@code this += a * x} (BLAS {@code axpy}).
   *
   * @param a any finite factor, positive, zero or negative
   * @param x values of this buffer's structure; read, not kept
   * @return this buffer
   * @throws IllegalArgumentException if {@code a} is NaN or infinite, or the structure differs
   * @throws IllegalStateException if this buffer is closed
   */
  MutableParameters axpy(double a, Parameters x);

  /**
   * Sets {@code this += a * x} (BLAS {@code axpy}).
   *
   * @param a any finite factor, positive, zero or negative
   * @param x a buffer of the same kernel and structure; may be this buffer
   * @return this buffer
   * @throws IllegalArgumentException if {@code a} is NaN or infinite, or the structure or kernel
   *     differs
   * @throws IllegalStateException if either buffer is closed
   */
  MutableParameters axpy(double a, MutableParameters x);

  /**
   * Sets {@code this *= a} (BLAS {@code scal}).
   *
   * @param a any finite factor
   * @return this buffer
   * @throws IllegalArgumentException if {@code a} is NaN or infinite
   * @throws IllegalStateException if this buffer is closed
   */
  MutableParameters scale(double a);

  /**
   * Sets {@code this[i] *= x[i]} (the Hadamard product).
   *
   * @param x a buffer of the same kernel and structure; may be this buffer
   * @return this buffer
   * @throws IllegalArgumentException if the structure or kernel differs
   * @throws IllegalStateException if either buffer is closed
   */
  MutableParameters multiply(MutableParameters x);

  /**
   * Sets {@code this[i] = this[i] * this[i]}, as for a second moment.
   *
   * @return this buffer
   * @throws IllegalStateException if this buffer is closed
   */
  MutableParameters square();

  /**
   * Sets {@code this[i] = sqrt(this[i])}; a negative element becomes NaN.
   *
   * @return this buffer
   * @throws IllegalStateException if this buffer is closed
   */
  MutableParameters sqrt();

  /**
   * Sets {@code this[i] = this[i] / (sqrt(v[i]) + tau)}: the adaptive step of Adam-style
   * optimizers, with {@code tau} keeping the denominator away from zero (Reddi et al., "Adaptive
   * Federated Optimization", ICLR 2021, Algorithm 2).
   *
   * @param v second moments, of the same kernel and structure, each at least 0; not changed
   *     (unless it is this buffer)
   * @param tau the degree of adaptivity, positive and finite (Reddi et al. tune it in
   *     {@code [1e-9, 1e-1]}; Flower's default is {@code 1e-9})
   * @return this buffer
   * @throws IllegalArgumentException if {@code tau} is not positive and finite, or the structure
   *     or kernel differs
   * @throws IllegalStateException if either buffer is closed
   */
  MutableParameters divideBySqrtPlus(MutableParameters v, double tau);

  /**
   * Sets {@code this[i] = sign(this[i])}: -1, 0 or 1 (as in FedYogi's second moment).
   *
   * @return this buffer
   * @throws IllegalStateException if this buffer is closed
   */
  MutableParameters sign();

  /**
   * Returns a new buffer of the same kernel holding a copy of this one; the caller owns and closes
   * it.
   *
   * @return the copy
   * @throws IllegalStateException if this buffer is closed
   */
  MutableParameters copy();

  /**
   * Copies the values out as immutable parameters: FLOAT32 tensors with this buffer's names and
   * shapes, in memory of their own (direct buffers for the native kernel) that later operations
   * and {@link #close()} do not touch. Use it for a new global model or a {@link StrategyState}.
   *
   * @return the copy
   * @throws IllegalStateException if this buffer is closed
   */
  Parameters snapshot();

  /** Frees the buffer's memory; later calls do nothing. */
  @Override
  void close();
}
