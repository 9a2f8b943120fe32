package dev.flops.benchmarks;

import dev.flops.aggregator.kernel.ExactAveraging;
import dev.flops.aggregator.kernel.JavaAveraging;
import dev.flops.aggregator.kernel.Nd4jAveraging;
import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.AveragingKernel.WeightedSum;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Time to fold one update into a running weighted sum ({@code sum.add(update, 3.0)}) with each
 * {@link AveragingKernel}, for a model of one float32 tensor of {@code size} elements. With
 * {@code layout=direct} the update lies in a direct buffer, as the aggregator decodes uploads (into
 * its pool of in-flight slots), and the ND4J kernel folds it in place; with {@code layout=heap} it
 * is a heap buffer, and the ND4J kernel pays a staging copy inside the measured call.
 *
 * <p>Compare with {@link BandwidthReferenceBenchmark} (same sizes, same bytes touched per element
 * as an ideal fold) and {@link Nd4jStepsBenchmark} (the ND4J kernel's two steps apart). Run alone:
 *
 * <pre>
 * mvn -B -q -pl benchmarks -am package -DskipTests
 * java -cp benchmarks/target/classes:$(cat benchmarks/target/classpath.txt) \
 *     org.openjdk.jmh.Main AveragingKernelBenchmark
 * </pre>
 *
 * or all three with derived GB/s figures through {@link KernelReport}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g", "-XX:MaxDirectMemorySize=2g"})
@State(Scope.Benchmark)
public class AveragingKernelBenchmark {

  /** The kernels under comparison, by the name the aggregator's kernels give themselves. */
  public enum Kernel {
    nd4j(Nd4jAveraging::new),
    java(JavaAveraging::new),
    /** Order-independent sums (issue 12), the ND4J kernel's ops. */
    exact(() -> new ExactAveraging(new Nd4jAveraging()));

    private final Supplier<AveragingKernel> factory;

    Kernel(Supplier<AveragingKernel> factory) {
      this.factory = factory;
    }

    AveragingKernel create() {
      return factory.get();
    }
  }

  @Param({"nd4j", "java", "exact"})
  public Kernel kernel;

  @Param({"1000000", "10000000"})
  public int size;

  /** Where the update's bytes live: {@code direct} (as uploads are decoded) or {@code heap}. */
  @Param({"direct", "heap"})
  public String layout;

  private WeightedSum sum;
  private Parameters update;

  @Setup(Level.Trial)
  public void setUp() {
    Parameters template = Parameters.of(Tensor.ofFloats("w", new long[] {size}, new float[size]));
    Tensor values = Tensor.ofFloats("w", new long[] {size}, randomFloats(size, 42));
    if (layout.equals("direct")) {
      ByteBuffer direct = ByteBuffer.allocateDirect(size * Float.BYTES)
          .order(ByteOrder.LITTLE_ENDIAN).put(values.data()).flip();
      values = new Tensor("w", DType.FLOAT32, new long[] {size}, direct);
    }
    update = Parameters.of(values);
    sum = kernel.create().begin(template);
    if (kernel == Kernel.nd4j) {
      System.out.println(Nd4jStepsBenchmark.describeThreads());
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    // The sum only grows (3 * update per call), never to infinity in a trial: a sanity check that
    // the kernel really folded something.
    if (sum.count() == 0) {
      throw new IllegalStateException("no update was folded");
    }
    sum.close();
  }

  @Benchmark
  public void fold() {
    sum.add(update, 3.0);
  }

  static float[] randomFloats(int size, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    float[] values = new float[size];
    for (int i = 0; i < size; i++) {
      values[i] = (float) (random.nextDouble() * 2 - 1);
    }
    return values;
  }
}
