package dev.flops.benchmarks;

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
import org.openjdk.jmh.annotations.Warmup;

/**
 * Single-threaded memory-bandwidth reference for {@link AveragingKernelBenchmark}: the triad-like
 * loop {@code a[i] += w * b[i]} over two heap {@code float[]} of {@code size} elements. It reads 8
 * and writes 4 bytes per element, which is exactly what an ideal fold of one update into a sum
 * must move, so its time per call is the floor a kernel can aim for on this machine.
 *
 * <pre>
 * mvn -B -q -pl benchmarks -am package -DskipTests
 * java -cp benchmarks/target/classes:$(cat benchmarks/target/classpath.txt) \
 *     org.openjdk.jmh.Main BandwidthReferenceBenchmark
 * </pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
@State(Scope.Benchmark)
public class BandwidthReferenceBenchmark {

  @Param({"1000000", "10000000"})
  public int size;

  // A field, not a constant, so that the JIT cannot fold the multiplication away.
  public float weight = 3.0f;

  private float[] sum;
  private float[] update;

  @Setup(Level.Trial)
  public void setUp() {
    sum = new float[size];
    update = AveragingKernelBenchmark.randomFloats(size, 42);
  }

  @Benchmark
  public void triad() {
    float[] a = sum;
    float[] b = update;
    float w = weight;
    for (int i = 0; i < a.length; i++) {
      a[i] += w * b[i];
    }
  }
}
