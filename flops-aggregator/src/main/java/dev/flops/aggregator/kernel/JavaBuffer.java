package dev.flops.aggregator.kernel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * {@link JavaAveraging}'s buffer: one heap {@code float[]} per tensor, plain loops in float32.
 * The reference the native buffer is tested against; the garbage collector frees it.
 */
final class JavaBuffer extends KernelBuffer {
  private final float[][] values;

  JavaBuffer(Layout layout) {
    super(layout);
    values = new float[layout.tensors()][];
    for (int t = 0; t < values.length; t++) {
      values[t] = new float[layout.size(t)];
    }
  }

  private static float[] of(KernelBuffer x, int t) {
    return ((JavaBuffer) x).values[t];
  }

  @Override
  void load(int t, ByteBuffer x) {
    x.asFloatBuffer().get(values[t]);
  }

  @Override
  void assign(int t, KernelBuffer x) {
    System.arraycopy(of(x, t), 0, values[t], 0, values[t].length);
  }

  @Override
  void axpy(int t, float a, ByteBuffer x) {
    float[] y = values[t];
    FloatBuffer floats = x.asFloatBuffer();
    for (int i = 0; i < y.length; i++) {
      y[i] += a * floats.get(i);
    }
  }

  @Override
  void axpy(int t, float a, KernelBuffer x) {
    float[] y = values[t];
    float[] xs = of(x, t);
    for (int i = 0; i < y.length; i++) {
      y[i] += a * xs[i];
    }
  }

  @Override
  void scale(int t, float a) {
    float[] y = values[t];
    for (int i = 0; i < y.length; i++) {
      y[i] *= a;
    }
  }

  @Override
  void multiply(int t, KernelBuffer x) {
    float[] y = values[t];
    float[] xs = of(x, t);
    for (int i = 0; i < y.length; i++) {
      y[i] *= xs[i];
    }
  }

  @Override
  void square(int t) {
    float[] y = values[t];
    for (int i = 0; i < y.length; i++) {
      y[i] *= y[i];
    }
  }

  @Override
  void sqrt(int t) {
    float[] y = values[t];
    for (int i = 0; i < y.length; i++) {
      y[i] = (float) Math.sqrt(y[i]);
    }
  }

  @Override
  void divideBySqrtPlus(int t, KernelBuffer v, float tau) {
    float[] y = values[t];
    float[] vs = of(v, t);
    for (int i = 0; i < y.length; i++) {
      y[i] /= (float) Math.sqrt(vs[i]) + tau;
    }
  }

  @Override
  void sign(int t) {
    float[] y = values[t];
    for (int i = 0; i < y.length; i++) {
      y[i] = Math.signum(y[i]);
    }
  }

  @Override
  ByteBuffer read(int t) {
    ByteBuffer out = ByteBuffer.allocate(Math.multiplyExact(values[t].length, Float.BYTES))
        .order(ByteOrder.LITTLE_ENDIAN);
    out.asFloatBuffer().put(values[t]);
    return out;
  }

  @Override
  KernelBuffer newBuffer() {
    return new JavaBuffer(layout);
  }

  @Override
  void free() {
    for (int t = 0; t < values.length; t++) {
      values[t] = null;
    }
  }
}
