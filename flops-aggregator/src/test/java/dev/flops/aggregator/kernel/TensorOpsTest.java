package dev.flops.aggregator.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.MutableParameters;
import dev.flops.api.strategy.TensorOps;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every {@link MutableParameters} operation on the native and the plain-Java kernel, against a
 * double-precision reference computed here from the same float32 inputs, and against each other.
 */
class TensorOpsTest {

  /** Relative to max(1, |reference|): one or two float32 roundings of O(1) values. */
  private static final double TOLERANCE = 1e-6;

  /** One element-wise operation, applied by a kernel and by the double reference. */
  enum Op {
    COPY_FROM_PARAMETERS((y, x, v) -> x) {
      @Override
      void apply(TensorOps ops, MutableParameters y, Parameters x, Parameters v) {
        y.copyFrom(x);
      }
    },
    COPY_FROM_BUFFER((y, x, v) -> x) {
      @Override
      void apply(TensorOps ops, MutableParameters y, Parameters x, Parameters v) {
        try (MutableParameters xs = ops.copyOf(x)) {
          y.copyFrom(xs);
        }
      }
    },
    AXPY_PARAMETERS((y, x, v) -> y - 1.75 * x) {
      @Override
      void apply(TensorOps ops, MutableParameters y, Parameters x, Parameters v) {
        y.axpy(-1.75, x);
      }
    },
    AXPY_BUFFER((y, x, v) -> y + 0.3 * x) {
      @Override
      void apply(TensorOps ops, MutableParameters y, Parameters x, Parameters v) {
        try (MutableParameters xs = ops.copyOf(x)) {
          y.axpy(0.3, xs);
        }
      }
    },
    AXPY_SELF((y, x, v) -> y - 0.5 * y) {
      @Override
      void apply(TensorOps ops, MutableParameters y, Parameters x, Parameters v) {
        y.axpy(-0.5, y);
      }
    },
    SCALE((y, x, v) -> y * -0.625) {
      @Override
      void apply(TensorOps ops, MutableParameters y, Parameters x, Parameters v) {
        y.scale(-0.625);
      }
    },
    MULTIPLY((y, x, v) -> y * x) {
      @Override
      void apply(TensorOps ops, MutableParameters y, Parameters x, Parameters v) {
        try (MutableParameters xs = ops.copyOf(x)) {
          y.multiply(xs);
        }
      }
    },
    SQUARE((y, x, v) -> y * y) {
      @Override
      void apply(TensorOps ops, MutableParameters y, Parameters x, Parameters v) {
        y.square();
      }
    },
    SQRT_OF_NON_NEGATIVE((y, x, v) -> Math.sqrt(v)) {
      @Override
      void apply(TensorOps ops, MutableParameters y, Parameters x, Parameters v) {
        y.copyFrom(v).sqrt();
      }
    },
    DIVIDE_BY_SQRT_PLUS_TAU((y, x, v) -> y / (Math.sqrt(v) + (double) 1e-3f)) {
      @Override
      void apply(TensorOps ops, MutableParameters y, Parameters x, Parameters v) {
        try (MutableParameters vs = ops.copyOf(v)) {
          y.divideBySqrtPlus(vs, 1e-3);
        }
      }
    },
    SIGN((y, x, v) -> Math.signum(y)) {
      @Override
      void apply(TensorOps ops, MutableParameters y, Parameters x, Parameters v) {
        y.sign();
      }
    };

    private final Reference reference;

    Op(Reference reference) {
      this.reference = reference;
    }

    abstract void apply(TensorOps ops, MutableParameters y, Parameters x, Parameters v);
  }

  interface Reference {
    double at(double y, double x, double v);
  }

  static Stream<AveragingKernel> kernels() {
    return Stream.of(new Nd4jAveraging(), new JavaAveraging());
  }

  static Stream<Arguments> opsAndLayouts() {
    return Stream.of(Op.values()).flatMap(op -> Stream.of(
        Arguments.of(op, "heap"), Arguments.of(op, "direct")));
  }

  @ParameterizedTest(name = "{0}, {1} operands")
  @MethodSource("opsAndLayouts")
  void everyOp_bothKernelsMatchTheDoubleReference_andEachOther(Op op, String layout) {
    Random random = new Random(op.ordinal() * 31L + layout.length());
    Parameters y = random(random, false);
    Parameters x = random(random, false);
    Parameters v = random(random, true);
    if (layout.equals("direct")) {
      y = AveragingKernelTest.offHeap(y);
      x = AveragingKernelTest.offHeap(x);
      v = AveragingKernelTest.offHeap(v);
    }
    Parameters nd4j = run(new Nd4jAveraging(), op, y, x, v);
    Parameters java = run(new JavaAveraging(), op, y, x, v);

    for (int t = 0; t < y.size(); t++) {
      float[] ys = y.tensors().get(t).toFloatArray();
      float[] xs = x.tensors().get(t).toFloatArray();
      float[] vs = v.tensors().get(t).toFloatArray();
      float[] n = nd4j.tensors().get(t).toFloatArray();
      float[] j = java.tensors().get(t).toFloatArray();
      assertEquals(ys.length, n.length);
      assertEquals(ys.length, j.length);
      for (int i = 0; i < ys.length; i++) {
        double reference = op.reference.at(ys[i], xs[i], vs[i]);
        String where = op + " " + y.tensors().get(t).name() + "[" + i + "]";
        assertClose(reference, n[i], "nd4j " + where);
        assertClose(reference, j[i], "java " + where);
        assertClose(j[i], n[i], "nd4j vs java " + where);
      }
    }
  }

  private static Parameters run(AveragingKernel kernel, Op op, Parameters y, Parameters x,
      Parameters v) {
    TensorOps ops = kernel.ops();
    try (MutableParameters buffer = ops.copyOf(y)) {
      op.apply(ops, buffer, x, v);
      Parameters result = buffer.snapshot();
      assertEquals(y.names(), result.names());
      for (int t = 0; t < y.size(); t++) {
        assertTrue(y.tensors().get(t).sameSpec(result.tensors().get(t)));
      }
      return result;
    }
  }

  private static void assertClose(double expected, double actual, String what) {
    assertEquals(expected, actual, TOLERANCE * Math.max(1, Math.abs(expected)), what);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("kernels")
  void zeros_areZeros_andSnapshotsOutliveTheBuffer(AveragingKernel kernel) {
    Parameters template = random(new Random(3), false);
    Parameters zeros;
    Parameters copy;
    try (MutableParameters buffer = kernel.ops().zeros(template)) {
      assertEquals(template.elementCount(), buffer.elementCount());
      zeros = buffer.snapshot();
      copy = buffer.copyFrom(template).snapshot();
      buffer.scale(2); // the snapshots are copies: later operations leave them alone
    }
    System.gc();
    for (int t = 0; t < template.size(); t++) {
      float[] expected = template.tensors().get(t).toFloatArray();
      assertArrayEquals(new float[expected.length], zeros.tensors().get(t).toFloatArray());
      assertArrayEquals(expected, copy.tensors().get(t).toFloatArray());
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("kernels")
  void nonFiniteFactors_refusedNamingThem_bufferUnchanged(AveragingKernel kernel) {
    Parameters template = Parameters.of(Tensor.ofFloats("w", 1f, -2f, 4f));
    try (MutableParameters y = kernel.ops().copyOf(template);
        MutableParameters x = kernel.ops().copyOf(template)) {
      assertRefused("a must be finite", () -> y.axpy(Double.NaN, template));
      assertRefused("a must be finite", () -> y.axpy(Double.NEGATIVE_INFINITY, x));
      assertRefused("within float32's range", () -> y.scale(1e39));
      assertRefused("a must be finite", () -> y.scale(Double.POSITIVE_INFINITY));
      assertRefused("tau must be positive", () -> y.divideBySqrtPlus(x, 0));
      assertRefused("tau must be positive", () -> y.divideBySqrtPlus(x, -1e-3));
      assertRefused("tau must be finite", () -> y.divideBySqrtPlus(x, Double.NaN));

      assertEquals(template, y.snapshot(), "refused operations change nothing");
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("kernels")
  void operandsOfAnotherStructureOrKernel_refusedNamingTheDifference(AveragingKernel kernel) {
    Parameters template = Parameters.of(Tensor.ofFloats("w", new long[] {2, 2}, new float[] {
        1f, 2f, 3f, 4f}));
    Parameters flat = Parameters.of(Tensor.ofFloats("w", new long[] {4}, new float[4]));
    AveragingKernel other = kernel instanceof Nd4jAveraging ? new JavaAveraging()
        : new Nd4jAveraging();
    try (MutableParameters y = kernel.ops().copyOf(template);
        MutableParameters wrongShape = kernel.ops().zeros(flat);
        MutableParameters otherKernel = other.ops().zeros(template)) {
      assertRefused("tensor #0: expected w FLOAT32[2, 2] but got w FLOAT32[4]",
          () -> y.axpy(1, flat));
      assertRefused("tensor #0: expected w FLOAT32[2, 2] but got w FLOAT32[4]",
          () -> y.multiply(wrongShape));
      assertRefused("expected 1 tensors [w] but got 2 [w, b]", () -> y.copyFrom(Parameters.of(
          Tensor.ofFloats("w", new long[] {2, 2}, new float[4]), Tensor.ofFloats("b", 1f))));
      assertRefused("combine buffers made by the same kernel's ops()",
          () -> y.axpy(1, otherKernel));
      ByteBuffer longs = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
      assertRefused("but got w INT64[2, 2]", () -> y.copyFrom(Parameters.of(
          new Tensor("w", DType.INT64, new long[] {2, 2}, longs))));
      assertRefused("FLOAT32 tensors only", () -> kernel.ops().zeros(Parameters.of(
          new Tensor("w", DType.INT64, new long[] {2, 2}, longs))));

      assertEquals(template, y.snapshot(), "refused operations change nothing");
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("kernels")
  void closedBuffer_refusesEveryOperation_closeTwiceIsFine(AveragingKernel kernel) {
    Parameters template = Parameters.of(Tensor.ofFloats("w", 1f, 2f));
    MutableParameters open = kernel.ops().copyOf(template);
    MutableParameters closed = kernel.ops().copyOf(template);
    closed.close();
    closed.close();

    IllegalStateException e = assertThrows(IllegalStateException.class, closed::snapshot);
    assertTrue(e.getMessage().contains("is closed"), e.getMessage());
    assertThrows(IllegalStateException.class, () -> closed.scale(2));
    assertThrows(IllegalStateException.class, closed::copy);
    assertThrows(IllegalStateException.class, () -> open.axpy(1, closed));
    assertThrows(IllegalStateException.class, () -> closed.copyFrom(template));
    assertEquals(template, open.snapshot());
    open.close();
  }

  @Test
  void kernelWithoutOps_saysWhichAndWhatToDo() {
    AveragingKernel sumsOnly = template -> new JavaAveraging().begin(template);

    UnsupportedOperationException e =
        assertThrows(UnsupportedOperationException.class, sumsOnly::ops);

    assertTrue(e.getMessage().contains("provides no TensorOps; use the aggregator's "
        + "Nd4jAveraging or JavaAveraging kernel"), e.getMessage());
  }

  private static void assertRefused(String message, Executable call) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().contains(message), e.getMessage());
  }

  /**
   * A matrix, a vector, an empty tensor, a scalar and one of 120k floats (above ND4J's threshold
   * for running an op on several threads). With {@code nonNegative}, squares of N(0,1) values (as
   * second moments are); otherwise N(0,1) with every seventh element 0 (for sign).
   */
  static Parameters random(Random random, boolean nonNegative) {
    int[] sizes = {37 * 29, 29, 0, 1, 120_000};
    long[][] shapes = {{37, 29}, {29}, {0, 5}, {}, {300, 400}};
    String[] names = {"w", "b", "empty", "scalar", "big"};
    List<Tensor> tensors = new ArrayList<>();
    for (int t = 0; t < sizes.length; t++) {
      float[] values = new float[sizes[t]];
      for (int i = 0; i < values.length; i++) {
        double g = random.nextGaussian();
        values[i] = nonNegative ? (float) (g * g) : i % 7 == 3 ? 0f : (float) g;
      }
      tensors.add(Tensor.ofFloats(names[t], shapes[t], values));
    }
    return new Parameters(tensors);
  }
}
