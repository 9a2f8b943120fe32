package dev.flops.benchmarks;

import dev.flops.aggregator.kernel.Nd4jAveraging;
import dev.flops.api.FitResult;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.BorrowedUpdate;
import dev.flops.api.strategy.FedAdam;
import dev.flops.api.strategy.FedAvg;
import dev.flops.api.strategy.FedAvgM;
import dev.flops.api.strategy.FedYogi;
import dev.flops.api.strategy.FitAggregation;
import dev.flops.api.strategy.Strategy;
import java.util.List;
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
 * Time of one round's aggregation on the native kernel, as the round loop drives it: begin, two
 * updates of one float32 tensor of {@code size} elements folded in, finish. FedAvg's finish is the
 * weighted mean; the server optimizers' adds their step on the kernel (the pseudo-gradient, the
 * moments copied in, stepped and snapshotted, the new global model snapshotted), so the
 * difference to {@code fedavg} is what a server optimizer costs a round. Run alone, short:
 *
 * <pre>
 * mvn -B -q -pl benchmarks -am package -DskipTests -Dmaven.javadoc.skip=true
 * java -cp benchmarks/target/classes:$(cat benchmarks/target/classpath.txt) \
 *     org.openjdk.jmh.Main ServerUpdateBenchmark -f 1 -wi 2 -i 3
 * </pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g", "-XX:MaxDirectMemorySize=2g"})
@State(Scope.Benchmark)
public class ServerUpdateBenchmark {

  @Param({"fedavg", "fedavgm", "fedadam", "fedyogi"})
  public String strategy;

  @Param({"10000000"})
  public int size;

  private final AveragingKernel kernel = new Nd4jAveraging();
  private Strategy running;
  private Parameters global;
  private Parameters update;
  private int round;

  @Setup(Level.Trial)
  public void setUp() {
    running = switch (strategy) {
      case "fedavg" -> FedAvg.withDefaults();
      case "fedavgm" -> FedAvgM.builder().build();
      case "fedadam" -> FedAdam.builder().build();
      case "fedyogi" -> FedYogi.builder().build();
      default -> throw new IllegalArgumentException("unknown strategy " + strategy);
    };
    float[] values = AveragingKernelBenchmark.randomFloats(size, 42);
    global = Parameters.of(Tensor.ofFloats("w", new long[] {size}, values));
    for (int i = 0; i < size; i++) {
      values[i] += 0.01f;
    }
    update = Parameters.of(Tensor.ofFloats("w", new long[] {size}, values));
  }

  /** One round; the new global model is the next round's, as in a federation. */
  @Benchmark
  public Parameters round() {
    FitAggregation aggregation = running.beginFitAggregation(++round, global, kernel);
    for (int learner = 0; learner < 2; learner++) {
      BorrowedUpdate lent = BorrowedUpdate.lend("learner-" + learner, FitResult.of(update, 32));
      aggregation.accept(lent);
      lent.release();
    }
    global = aggregation.finish(List.of()).parameters().orElseThrow();
    return global;
  }
}
