package dev.flops.aggregator.internal;

import dev.flops.api.Config;
import dev.flops.api.FitResult;
import dev.flops.api.Parameters;
import dev.flops.api.RoundRanking;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;

/**
 * The one port between the round loop and the transport: the learners connected to the server, as
 * the loop sees them. The loop asks for learners, dispatches a phase of tasks and reads the
 * outcomes; the transport (the gRPC {@link FederationService}) delivers validated updates to the
 * phase's {@link UpdateSink}. Neither side knows the other's types: the transport never sees a
 * strategy, the loop never sees a stream, a task message or an encoded model.
 *
 * <p>Thread rules: the loop calls from its one thread; a sink is called from transport threads,
 * one call at a time, and never after {@link Phase#expire} or {@link Phase#close} returned.
 */
public interface LearnerPool {

  /**
   * Returns the learners connected now.
   *
   * @return their ids, in the order they first joined
   */
  List<String> connected();

  /**
   * Waits until at least {@code count} learners are connected, reporting the wait in the log.
   *
   * @param count the learners needed, at least 1
   * @param timeout how long to wait at most
   * @param progressInterval how often an unchanged wait is reported
   * @return the connected learners
   * @throws TimeoutException naming how many came, if fewer than {@code count} came in time
   * @throws InterruptedException if the waiting thread is interrupted
   */
  List<String> awaitLearners(int count, Duration timeout, Duration progressInterval)
      throws InterruptedException, TimeoutException;

  /**
   * Names a learner for people: its id and the name it joined with.
   *
   * @param learnerId the id
   * @return the name it joined with, or null if none joined with this id
   */
  String learnerName(String learnerId);

  /**
   * Returns the identities handed out so far, for a checkpoint.
   *
   * @return learner key to learner id
   */
  Map<String, String> identities();

  /**
   * Restores identities saved with a checkpoint: a learner that reconnects with a saved key gets
   * its saved id; a connected learner whose key was saved under another id takes that id now.
   *
   * @param saved learner key to learner id
   */
  void restoreIdentities(Map<String, String> saved);

  /**
   * Prepares the pool for a training: the structure every update must have, and the metric each
   * result must report as a number.
   *
   * @param global the global parameters of the training
   * @param ranking how rounds are ranked: every result must report its metric as a number
   * @throws IllegalStateException if the upload limits would refuse every valid update
   */
  void prepare(Parameters global, RoundRanking ranking);

  /**
   * Sends one task per assignment for a phase of a round and returns the phase, whose outcomes
   * complete as the learners answer. From now on only traffic for {@code round} is accepted.
   *
   * @param round the round, from 1
   * @param kind fit or evaluate
   * @param global the global parameters the learners download
   * @param parametersId names {@code global}: a learner that holds them already skips the download
   * @param assignments one per learner asked
   * @param sink receives each validated update of a fit phase; null for an evaluate phase
   * @return the phase
   */
  Phase dispatch(int round, PhaseKind kind, Parameters global, String parametersId,
      List<Assignment> assignments, UpdateSink sink);

  /**
   * Ends every download of {@code parameters} and returns once none reads them any more, so
   * that their memory may be freed. Call it only after every phase that sent them has ended;
   * a download still running then ends with {@code TASK_ENDED}. Loop thread only.
   *
   * @param parameters global parameters a later round replaced (compared by identity)
   */
  void retireDownloads(Parameters parameters);

  /**
   * Returns the parameter bytes moved so far.
   *
   * @return bytes sent and received since the server started
   */
  Traffic traffic();

  /** A task for one learner. */
  record Assignment(String learnerId, Config config) {}

  /** The parameter data moved since the server started, without gRPC and HTTP/2 framing. */
  record Traffic(long bytesSent, long bytesReceived) {}

  /** Which half of a round a phase is. */
  enum PhaseKind { FIT, EVALUATE }

  /**
   * Receives the validated updates of a fit phase, one call at a time.
   */
  @FunctionalInterface
  interface UpdateSink {
    /**
     * Folds one update. The result's parameters are lent for this call only: the transport
     * reuses their buffer for the next upload once it returns.
     *
     * @param learnerId the learner whose task this update completes
     * @param result the validated update
     * @throws RuntimeException if it cannot be folded; the update is then refused, its task fails
     *     and nothing of it may remain in the aggregate
     */
    void accept(String learnerId, FitResult result);
  }
}
