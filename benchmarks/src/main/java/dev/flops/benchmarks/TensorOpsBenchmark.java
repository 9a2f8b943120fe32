package dev.flops.benchmarks;

import dev.flops.aggregator.kernel.JavaAveraging;
import dev.flops.aggregator.kernel.Nd4jAveraging;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.MutableParameters;
import dev.flops.api.strategy.TensorOps;
import java.util.concurrent.TimeUnit;
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
 * Time of one signed axpy, {@code y += a * x}, between two {@link MutableParameters} buffers of
 * one float32 tensor of {@code size} elements, made by each kernel's {@link TensorOps}: the
 * innermost step of a server optimizer (FedAvgM's {@code x += eta v}, Adam's moment updates).
 * ND4J's buffers are off-heap vectors updated by BLAS {@code saxpy}; Java's are {@code float[]}
 * updated by a plain loop. Also {@code adamMoment}: {@code m = 0.9 m + 0.1 x}, a scale then an
 * axpy. Run alone, short (benchmarks/README.md has the figures):
 *
 * <pre>
 * mvn -B -q -pl benchmarks -am package -DskipTests
 * java -cp benchmarks/target/classes:$(cat benchmarks/target/classpath.txt) \
 *     org.openjdk.jmh.Main TensorOpsBenchmark -f 1 -wi 2 -i 3
 * </pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g", "-XX:MaxDirectMemorySize=2g"})
@State(Scope.Benchmark)
public class TensorOpsBenchmark {

  @Param({"nd4j", "java"})
  public String kernel;

  @Param({"10000000"})
  public int size;

  private MutableParameters y;
  private MutableParameters x;
  /** Alternates the sign of {@code a} so that {@code y} stays bounded however long the run. */
  private double a = 1e-3;

  @Setup(Level.Trial)
  public void setUp() {
    AveragingKernel averaging = kernel.equals("nd4j") ? new Nd4jAveraging() : new JavaAveraging();
    TensorOps ops = averaging.ops();
    Parameters values = Parameters.of(Tensor.ofFloats("w", new long[] {size},
        AveragingKernelBenchmark.randomFloats(size, 42)));
    y = ops.copyOf(values);
    x = ops.copyOf(values);
    if (kernel.equals("nd4j")) {
      System.out.println(Nd4jStepsBenchmark.describeThreads());
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    y.close();
    x.close();
  }

  @Benchmark
  public MutableParameters axpy() {
    a = -a;
    return y.axpy(a, x);
  }

  @Benchmark
  public MutableParameters adamMoment() {
    return y.scale(0.9).axpy(0.1, x);
  }
}
