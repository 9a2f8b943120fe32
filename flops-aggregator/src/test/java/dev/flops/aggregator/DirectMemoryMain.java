package dev.flops.aggregator;

import dev.flops.aggregator.kernel.JavaAveraging;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;

/**
 * Starts an aggregator for a model of {@code args[0]} MiB (one float32 tensor) with
 * {@code args[1]} uploads in flight and one download at a time, under the JVM's direct-memory
 * limit, and stops it. Prints {@code STARTED}, or {@code REFUSED <message>} and exits with 2 when
 * the aggregator refuses to start. With {@code args[2]} = n, n raw learners join it after
 * {@code STARTED} (then it prints {@code JOINED n}), so that it can warn about their share.
 */
public final class DirectMemoryMain {
  private DirectMemoryMain() {}

  public static void main(String[] args) throws Exception {
    int mib = Integer.parseInt(args[0]);
    int inFlight = Integer.parseInt(args[1]);
    Parameters model = Parameters.of(Tensor.ofFloats("w", new long[] {mib * 262_144L},
        new float[mib * 262_144]));
    Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(model))
        .averagingKernel(new JavaAveraging())
        .maxInFlightUploads(inFlight)
        .maxConcurrentDownloads(1)
        .build();
    try {
      aggregator.start();
    } catch (IllegalStateException e) {
      System.out.println("REFUSED " + e.getMessage());
      System.exit(2);
    }
    System.out.println("STARTED");
    int learners = args.length > 2 ? Integer.parseInt(args[2]) : 0;
    java.util.List<RawLearner> joined = new java.util.ArrayList<>();
    for (int i = 0; i < learners; i++) {
      joined.add(RawLearner.join(aggregator.port(), "learner-" + i, 0f, 1));
    }
    if (learners > 0) {
      System.out.println("JOINED " + learners);
    }
    for (RawLearner learner : joined) {
      learner.close();
    }
    aggregator.close();
  }
}
