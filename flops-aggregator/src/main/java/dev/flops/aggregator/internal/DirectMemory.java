package dev.flops.aggregator.internal;

import com.sun.management.HotSpotDiagnosticMXBean;
import dev.flops.proto.codec.WireProtocol;
import java.lang.management.ManagementFactory;
import java.util.Locale;
import java.util.Optional;

/**
 * The aggregator's need for direct (off-heap) memory against the JVM's limit, and what to say
 * when they do not fit. Every model-sized buffer of the aggregator is direct (README, "Memory and
 * large models"): at the end of a round it holds the global parameters being served, the running
 * sum (which becomes the next global parameters in place) and one update per upload in flight,
 * {@code (2 + k) × M} for a model of {@code M} bytes and {@code k = maxInFlightUploads}; a
 * previous global model that the collector has not freed yet adds one more, {@code (3 + k) × M}.
 * Transfers add one message in transit per transfer in progress: a chunk of the global model (1
 * MiB) per download, and up to the largest chunk a learner may send (4 MiB) per upload.
 *
 * <p>That much is certain, and an aggregator whose limit cannot hold it refuses to start. What it
 * advises adds what netty's pool holds beyond the messages it carries and what each connected
 * learner may push in unasked: {@link #POOL_HEADROOM_BYTES} (the pool allocates 2 MiB chunks per
 * arena, rounds every buffer up to its size classes and keeps per-thread caches: at (1M
 * parameters, 10 learners) 48 MiB, 3.8 MiB above {@code (3 + k) × M} plus transfers, ran out
 * after 37 rounds, while the harness's budget, 40.8 MiB above it, never did), and per learner two
 * messages of the larger of the stream window and the inline limit (a waiting upload's window,
 * or an inline result and a task queued for it: 128 KiB by default, with which 1000 learners of a
 * 0.4 MB model peaked at 134-158 MiB; benchmarks/README.md, "Issue 13"). The check at start
 * cannot count learners; {@link FederationService} warns when those that join make the advice
 * exceed the limit. Figures in messages: the model in bytes, each part in MiB with one decimal,
 * rounded up, and every total the sum of the parts shown; the flag's value is that total rounded
 * up to whole MiB, never below the exact need.
 *
 * <p>Without this check an aggregator short of direct memory starts, takes learners, and fails
 * its first uploads with an {@code OutOfMemoryError} on gRPC threads, which learners see as
 * {@code UNKNOWN}; the training then ends blaming a time-out.
 */
public final class DirectMemory {
  private static final long MIB = 1L << 20;
  /** A chunk message's envelope and framing beyond its data, generously. */
  private static final long FRAMING_BYTES = 64 * 1024;
  /** What netty's pooled buffers hold beyond the messages in transit (see the class comment). */
  static final long POOL_HEADROOM_BYTES = 32 * MIB;

  private DirectMemory() {}

  /**
   * What a model and the transfer bounds need, and what the JVM allows.
   *
   * @param modelBytes the global model's data bytes
   * @param maxInFlightUploads the aggregator's bound on uploads in flight, at least 1
   * @param maxConcurrentDownloads the aggregator's bound on downloads streamed at once, at least 1
   * @param perLearnerBytes what each connected learner may hold in netty's buffers (two messages
   *     of the larger of the stream window and the inline limit), at least 0
   * @param learners the learners connected now (0 before any has joined), at least 0
   * @param limit the JVM's direct memory limit in bytes
   */
  public record Budget(long modelBytes, int maxInFlightUploads, int maxConcurrentDownloads,
      long perLearnerBytes, int learners, long limit) {
    /**
     * Checks the figures.
     *
     * @throws IllegalArgumentException if a count is negative or a bound below 1
     */
    public Budget {
      nonNegative("modelBytes", modelBytes);
      nonNegative("perLearnerBytes", perLearnerBytes);
      nonNegative("learners", learners);
      nonNegative("limit", limit);
      if (maxInFlightUploads < 1 || maxConcurrentDownloads < 1) {
        throw new IllegalArgumentException(String.format("maxInFlightUploads (%d) and "
                + "maxConcurrentDownloads (%d) must be at least 1", maxInFlightUploads,
            maxConcurrentDownloads));
      }
    }

    /**
     * The per-learner share for a stream window and an inline limit: two messages of the larger.
     *
     * @param streamWindow the aggregator's HTTP/2 flow-control window per stream, in bytes
     * @param maxInlineBytes the aggregator's inline limit, in bytes
     * @return the bytes each connected learner may hold in netty's buffers
     */
    public static long perLearner(int streamWindow, int maxInlineBytes) {
      return 2L * Math.max(streamWindow, maxInlineBytes);
    }

    /** Bytes of the messages in transit: one per download and upload in progress. */
    public long transferBytes() {
      long downloadMessage = WireProtocol.DEFAULT_CHUNK_BYTES + FRAMING_BYTES;
      return (long) maxConcurrentDownloads * downloadMessage
          + (long) maxInFlightUploads * WireProtocol.MAX_MESSAGE_BYTES;
    }

    /** What a round certainly holds at its end: {@code (2 + k) × M} plus transfers. */
    public long roundBytes() {
      return saturated(2L + maxInFlightUploads) + transferBytes();
    }

    /**
     * What the aggregator advises: {@code (3 + k) × M} plus transfers (one model of slack for a
     * previous global model not yet collected), netty's pool headroom and the connected learners'
     * share.
     */
    public long advisedBytes() {
      return saturated(3L + maxInFlightUploads) + transferBytes() + POOL_HEADROOM_BYTES
          + learners * perLearnerBytes;
    }

    private long saturated(long models) {
      return modelBytes > Long.MAX_VALUE / 2 / models ? Long.MAX_VALUE / 2 : models * modelBytes;
    }

    /**
     * Compares the need with the limit.
     *
     * @return a warning if a round fits but the advice does not, else empty
     * @throws IllegalStateException if a round's certain need does not fit: training could not
     *     complete a round; the message names {@code -XX:MaxDirectMemorySize} and the size advised
     */
    public Optional<String> check() {
      if (roundBytes() > limit) {
        throw new IllegalStateException(String.format(Locale.ROOT, "the aggregator needs about "
                + "%s MiB of direct memory for this model but the JVM allows %s MiB: %s. Start it "
                + "with -XX:MaxDirectMemorySize=%dm or more (%s)%s", mib(roundTenths()),
            mib(tenths(limit)), roundParts(), flag(advisedTenths()), adviceParts(),
            fewerUploads(",")));
      }
      if (advisedBytes() > limit) {
        return Optional.of(String.format(Locale.ROOT, "direct memory is tight: the JVM allows %s "
                + "MiB and a round needs %s MiB (%s), but transfers may fail for want of memory "
                + "below the %s MiB advised (%s). Start the aggregator with "
                + "-XX:MaxDirectMemorySize=%dm%s", mib(tenths(limit)), mib(roundTenths()),
            roundParts(), mib(advisedTenths()), adviceParts(), flag(advisedTenths()),
            learners == 0
                ? String.format(Locale.ROOT, " plus %d KiB for each learner that will connect",
                    perLearnerBytes / 1024)
                : String.format(Locale.ROOT, " for %s, plus %d KiB for each further one",
                    learnerCount(), perLearnerBytes / 1024)));
      }
      return Optional.empty();
    }

    /**
     * Explains an allocation failure of a transfer, in one of two forms: the JVM's limit is below
     * the advice (raise it to the advice), or the advice fits and other direct buffers of the
     * process hold the rest (raise it above the limit).
     *
     * @param error the failure
     * @return the message for the task, the log and the learner
     */
    public String exhausted(OutOfMemoryError error) {
      String need = String.format(Locale.ROOT, "%s; %s", roundParts(), adviceParts());
      if (advisedBytes() > limit) {
        return String.format(Locale.ROOT, "the aggregator ran out of direct memory (%s): raise "
                + "-XX:MaxDirectMemorySize to %dm (%s MiB advised: %s; the JVM allows %s MiB)%s",
            error.getMessage(), flag(advisedTenths()), mib(advisedTenths()), need,
            mib(tenths(limit)), fewerUploads(""));
      }
      return String.format(Locale.ROOT, "the aggregator ran out of direct memory (%s): its own "
              + "need, about %s MiB (%s), fits the JVM's %s MiB, so other direct buffers of this "
              + "process hold the rest; raise -XX:MaxDirectMemorySize above %dm",
          error.getMessage(), mib(advisedTenths()), need, mib(tenths(limit)), flag(tenths(limit)));
    }

    // The figures in messages: each part in tenths of a MiB, rounded up, and every total the sum
    // of the parts shown, so that a reader's sum matches; the flag rounds that total up to MiB.

    private long modelsTenths(long models) {
      return tenths(saturated(models));
    }

    private long roundTenths() {
      return modelsTenths(2L + maxInFlightUploads) + tenths(transferBytes());
    }

    private long advisedTenths() {
      return roundTenths() + modelsTenths(1) + tenths(POOL_HEADROOM_BYTES)
          + tenths(learners * perLearnerBytes);
    }

    /** A round's parts: the models and the messages in transit. */
    private String roundParts() {
      return String.format(Locale.ROOT, "%s MiB for (2 + %d) models of %d bytes: the global "
              + "parameters, the running sum and the updates in flight (maxInFlightUploads = %d); "
              + "%s MiB for transfers: up to %d downloads at once of 1 MiB + 64 KiB each, and 4 "
              + "MiB + 64 KiB per upload", mib(modelsTenths(2L + maxInFlightUploads)),
          maxInFlightUploads, modelBytes, maxInFlightUploads, mib(tenths(transferBytes())),
          maxConcurrentDownloads);
    }

    /** What the advice adds to a round, with the learners' share. */
    private String adviceParts() {
      String added = String.format(Locale.ROOT, "the advice adds %s MiB for one model of slack "
              + "(a previous global model not yet collected) and %s MiB for netty's pooled "
              + "buffers", mib(modelsTenths(1)), mib(tenths(POOL_HEADROOM_BYTES)));
      return learners == 0
          ? String.format(Locale.ROOT, "%s; add %d KiB for each learner that will connect, e.g. "
              + "%s MiB for 1000", added, perLearnerBytes / 1024,
              mib(tenths(1000 * perLearnerBytes)))
          : String.format(Locale.ROOT, "%s, and %s MiB for %s (%d KiB each)", added,
              mib(tenths(learners * perLearnerBytes)), learnerCount(), perLearnerBytes / 1024);
    }

    private String learnerCount() {
      return learners == 1 ? "the 1 connected learner" : "the " + learners + " connected learners";
    }

    private String fewerUploads(String separator) {
      return maxInFlightUploads == 1 ? ""
          : String.format("%s or lower maxInFlightUploads (now %d; each costs one model)",
              separator, maxInFlightUploads);
    }

    private static void nonNegative(String name, long value) {
      if (value < 0) {
        throw new IllegalArgumentException(name + " must not be negative but was " + value);
      }
    }
  }

  /**
   * Returns the budget of a model under this JVM's limit.
   *
   * @param modelBytes the global model's data bytes
   * @param maxInFlightUploads the aggregator's bound on uploads in flight
   * @param maxConcurrentDownloads the aggregator's bound on downloads streamed at once
   * @param perLearnerBytes each connected learner's share ({@link Budget#perLearner})
   * @param learners the learners connected now
   * @return the budget
   */
  public static Budget budget(long modelBytes, int maxInFlightUploads, int maxConcurrentDownloads,
      long perLearnerBytes, int learners) {
    return new Budget(modelBytes, maxInFlightUploads, maxConcurrentDownloads, perLearnerBytes,
        learners, limit());
  }

  /**
   * Returns the direct memory this JVM allows: {@code -XX:MaxDirectMemorySize}, or the largest
   * heap when that flag is not set (HotSpot reports 0, and the JDK then uses
   * {@code Runtime.maxMemory()}).
   *
   * @return the limit in bytes
   */
  public static long limit() {
    try {
      HotSpotDiagnosticMXBean hotSpot =
          ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
      long flag = hotSpot == null ? 0
          : Long.parseLong(hotSpot.getVMOption("MaxDirectMemorySize").getValue());
      if (flag > 0) {
        return flag;
      }
    } catch (IllegalArgumentException e) {
      // Not HotSpot, or it does not know the option: the JDK's default applies.
    }
    return Runtime.getRuntime().maxMemory();
  }

  /** Bytes in tenths of a MiB, rounded up. */
  private static long tenths(long bytes) {
    if (bytes <= 0) {
      return 0;
    }
    long rest = bytes % MIB;
    return bytes / MIB * 10 + (rest * 10 + MIB - 1) / MIB;
  }

  /** Tenths of a MiB as text, e.g. "25.2". */
  private static String mib(long tenths) {
    return String.format(Locale.ROOT, "%d.%d", tenths / 10, tenths % 10);
  }

  /** Tenths of a MiB rounded up to whole MiB: a value for {@code -XX:MaxDirectMemorySize=<n>m}. */
  private static long flag(long tenths) {
    return (tenths + 9) / 10;
  }
}
