package dev.flops.benchmarks;

import dev.flops.api.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
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
 * The two steps of {@code Nd4jAveraging}'s fold, timed apart to see where its time goes:
 * {@link #stagingCopy} copies the heap little-endian update into the off-heap staging buffer (the
 * same {@code FloatBuffer.put} the kernel does), {@link #saxpy} runs the native
 * {@code sum += 3 * staging} on the off-heap buffers alone. The statements mirror the kernel's; if
 * the kernel changes, change them too.
 *
 * <pre>
 * mvn -B -q -pl benchmarks -am package -DskipTests
 * java -cp benchmarks/target/classes:$(cat benchmarks/target/classpath.txt) \
 *     org.openjdk.jmh.Main Nd4jStepsBenchmark
 * </pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
@State(Scope.Benchmark)
public class Nd4jStepsBenchmark {

  @Param({"1000000", "10000000"})
  public int size;

  private Tensor update;
  private INDArray staging;
  private INDArray sum;

  @Setup(Level.Trial)
  public void setUp() {
    update = Tensor.ofFloats("w", new long[] {size}, AveragingKernelBenchmark.randomFloats(size, 42));
    staging = Nd4j.create(DataType.FLOAT, size);
    sum = Nd4j.zeros(DataType.FLOAT, size);
    stagingCopy();
    System.out.println(describeThreads());
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    staging.close();
    sum.close();
  }

  @Benchmark
  public ByteBuffer stagingCopy() {
    ByteBuffer target = staging.data().asNio();
    target.order(ByteOrder.nativeOrder()).asFloatBuffer().put(update.data().asFloatBuffer());
    return target;
  }

  @Benchmark
  public void saxpy() {
    Nd4j.getBlasWrapper().level1().axpy(staging.length(), 3.0, staging, sum);
  }

  static String describeThreads() {
    return String.format("nd4j threads: blas max=%d, environment max=%d, OMP_NUM_THREADS=%s",
        Nd4j.factory().blas().getMaxThreads(), Nd4j.getEnvironment().maxThreads(),
        System.getenv("OMP_NUM_THREADS"));
  }
}
