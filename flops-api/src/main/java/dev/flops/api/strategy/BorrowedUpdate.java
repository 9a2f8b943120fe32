package dev.flops.api.strategy;

import dev.flops.api.FitResult;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * One learner's validated update, lent to {@link FitAggregation#accept} for the length of that
 * call. The aggregator decodes each upload into a buffer that it reuses for the next upload as soon
 * as {@code accept} returns: that is what keeps its memory proportional to the model and not to the
 * number of learners. So the update's parameters are not a value that may be kept; they are
 * reached only through this view, whose every read of them after {@code accept} returned throws
 * {@link IllegalStateException} instead of silently reading another learner's numbers.
 *
 * <p>What may be kept: the learner id, the example count and the metrics (plain values), a
 * {@linkplain #copyParameters() copy} of the parameters, and anything computed from them during
 * {@code accept}. A strategy that needs every update at once (a median, Krum) copies each one,
 * ideally off the heap or to disk.
 *
 * <p>Not thread-safe: read it on the thread that called {@code accept}.
 */
public final class BorrowedUpdate {
  private final String learnerId;
  private final long numExamples;
  private final Map<String, Double> metrics;
  private Parameters parameters;

  private BorrowedUpdate(String learnerId, FitResult result) {
    this.learnerId = Objects.requireNonNull(learnerId, "learnerId");
    this.numExamples = result.numExamples();
    this.metrics = result.metrics();
    this.parameters = result.parameters();
  }

  /**
   * Lends a result's parameters until {@link #release()}. Called by the aggregator (and by tests
   * that drive an aggregation by hand).
   *
   * @param learnerId the learner the update came from
   * @param result the validated result whose parameters are lent
   * @return the view
   * @throws NullPointerException if an argument is null
   */
  public static BorrowedUpdate lend(String learnerId, FitResult result) {
    return new BorrowedUpdate(learnerId, Objects.requireNonNull(result, "result"));
  }

  /**
   * Returns the id of the learner that sent the update.
   *
   * @return the id the aggregator gave the learner
   */
  public String learnerId() {
    return learnerId;
  }

  /**
   * Returns the number of examples the learner trained on: the update's weight in FedAvg.
   *
   * @return 1 to {@value dev.flops.api.ReportedNumbers#MAX_EXAMPLES}
   */
  public long numExamples() {
    return numExamples;
  }

  /**
   * Returns the learner's fit metrics; a value that may be kept.
   *
   * @return finite values by name, unmodifiable
   */
  public Map<String, Double> metrics() {
    return metrics;
  }

  /**
   * Adds {@code weight} times the update's parameters to a running sum of the aggregator's kernel.
   *
   * @param sum the sum, begun from the global parameters of the round
   * @param weight a positive, finite weight, e.g. {@link #numExamples()}
   * @throws IllegalStateException if {@code accept} has returned already
   */
  public void addTo(AveragingKernel.WeightedSum sum, double weight) {
    Objects.requireNonNull(sum, "sum").add(borrowed(), weight);
  }

  /**
   * Lets {@code reader} read the parameters during this call. The {@link Parameters} it receives
   * share the aggregator's reused buffer: return what you computed from them, never them or their
   * tensors.
   *
   * @param reader reads the parameters, e.g. to fold them into state of the strategy's own
   * @param <R> what the reader computes
   * @return what the reader returned
   * @throws IllegalStateException if {@code accept} has returned already
   */
  public <R> R withParameters(Function<Parameters, R> reader) {
    return Objects.requireNonNull(reader, "reader").apply(borrowed());
  }

  /**
   * Copies the parameters to the Java heap: a value that may be kept after {@code accept}.
   *
   * @return a copy with the same names, dtypes, shapes and values
   * @throws IllegalStateException if {@code accept} has returned already
   */
  public Parameters copyParameters() {
    List<Tensor> copies = new ArrayList<>();
    for (Tensor tensor : borrowed()) {
      ByteBuffer source = tensor.data();
      ByteBuffer copy = ByteBuffer.allocate(source.remaining()).order(source.order());
      copy.put(source.duplicate()).flip();
      copies.add(new Tensor(tensor.name(), tensor.dtype(), tensor.shape(), copy));
    }
    return new Parameters(copies);
  }

  /**
   * Ends the loan: every later read of the parameters throws. Called by the aggregator once
   * {@code accept} has returned, before the buffer is reused; calling it again does nothing.
   */
  public void release() {
    parameters = null;
  }

  private Parameters borrowed() {
    Parameters lent = parameters;
    if (lent == null) {
      throw new IllegalStateException("the update of " + learnerId + " was read after "
          + "FitAggregation.accept returned: its buffer already holds another learner's update. "
          + "Keep what you need during accept: copyParameters(), or values computed in "
          + "withParameters(...)");
    }
    return lent;
  }

  @Override
  public String toString() {
    return "update of " + learnerId + " (" + numExamples + " examples"
        + (parameters == null ? ", released)" : ")");
  }
}
