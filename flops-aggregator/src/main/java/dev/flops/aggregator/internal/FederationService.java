package dev.flops.aggregator.internal;

import com.google.protobuf.ByteString;
import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.FitResult;
import dev.flops.api.InvalidResultException;
import dev.flops.api.LearnerFailure.Kind;
import dev.flops.api.Parameters;
import dev.flops.api.RoundRanking;
import dev.flops.proto.codec.Durations;
import dev.flops.proto.codec.EncodedParameters;
import dev.flops.proto.codec.InlineParameters;
import dev.flops.proto.codec.Manifests;
import dev.flops.proto.codec.ParameterDecoder;
import dev.flops.proto.codec.Scalars;
import dev.flops.proto.codec.Statuses;
import dev.flops.proto.codec.WireError;
import dev.flops.proto.codec.WireFormatException;
import dev.flops.proto.codec.WireFrame;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.v1.AggregatorMessage;
import dev.flops.proto.v1.DownloadRequest;
import dev.flops.proto.v1.Envelope;
import dev.flops.proto.v1.FederationGrpc;
import dev.flops.proto.v1.FederationOutcome;
import dev.flops.proto.v1.InlineTensors;
import dev.flops.proto.v1.InlineUpdate;
import dev.flops.proto.v1.LearnerMessage;
import dev.flops.proto.v1.ParameterMessage;
import dev.flops.proto.v1.Task;
import dev.flops.proto.v1.TaskKind;
import dev.flops.proto.v1.TaskRefusal;
import dev.flops.proto.v1.UploadHeader;
import dev.flops.proto.v1.UploadMessage;
import dev.flops.proto.v1.UploadReceipt;
import dev.flops.proto.v1.Welcome;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gRPC side of the aggregator, and the round loop's {@link LearnerPool}: learners' control
 * streams, parameter downloads and update uploads, and the pending tasks of the current phase.
 * Who is connected is {@link Membership}'s; bounded transfers are {@link TransferSlots}'; the
 * strategy is unknown here: validated updates go to the phase's {@link UpdateSink}.
 *
 * <p>Every inbound message is checked (protocol version, round, task ownership) before it can touch
 * any state; an update is fully validated (manifest against the global model, every chunk once and
 * in order, checksum, finite values) before it reaches the sink.
 *
 * <p>Concurrency, in one place. gRPC calls the stream observers from its executor; the round loop
 * calls the {@link LearnerPool} methods from its one thread. The locks, none held while taking
 * another except as listed:
 * <ul>
 *   <li>{@link Membership}'s monitor: joins, leaves, identity restores, the end of the federation,
 *       and the wait for learners;
 *   <li>{@code foldLock}: the current round and sink, and every fold into the sink, against the
 *       loop expiring or closing the phase (after {@code expire}/{@code close} no update of it is
 *       folded); an upload folds while holding its own monitor, then {@code foldLock};
 *   <li>each {@code Upload}'s monitor: its own messages against its slot grant, which arrives on
 *       another thread;
 *   <li>each {@link LearnerSession}'s monitor: sends on its stream are serialised;
 *   <li>{@link TransferSlots}' internal lock: callbacks run outside it.
 * </ul>
 * Tasks live in a concurrent map; a task's outcome is a future completed once, so that a fold, a
 * failure report and an expiry race harmlessly: the first one wins.
 */
public final class FederationService extends FederationGrpc.FederationImplBase
    implements LearnerPool {
  private static final Logger log = LoggerFactory.getLogger(FederationService.class);

  /** The connected learners and their identities; its own lock (see {@link Membership}). */
  private final Membership members = new Membership();
  private final Map<String, PendingTask> tasks = new ConcurrentHashMap<>();
  /** Tasks forgotten at the end of their round, so that late reports about them read as such. */
  private final EndedTasks endedTasks = new EndedTasks();
  private static final int MAX_LEARNER_KEY_CHARS = 128;

  private final AtomicLong taskIds = new AtomicLong();
  /** Guards folding into {@link #sink} against tasks being expired concurrently. */
  private final Object foldLock = new Object();
  /** The default bound on downloads streamed at once. */
  public static final int DEFAULT_MAX_CONCURRENT_DOWNLOADS = 16;

  private final TransferSlots uploadSlots;
  private final TransferSlots downloadSlots;
  private volatile long currentRound;
  /** Where the current fit phase's validated updates go; null outside a fit phase. */
  private UpdateSink sink;
  /** The global parameters learners download, encoded once per version; loop thread only. */
  private DownloadSource encoded;
  /**
   * The versions downloads may still read, oldest first: the current one and the one before
   * (the round's fit phase sent that one); older ones are retired. Loop thread only.
   */
  private final Deque<DownloadSource> downloadSources = new ArrayDeque<>();
  private String encodedId;
  /** The same, whole, for learners that take them inline; null if above the threshold. */
  private InlineTensors inline;
  /**
   * The default {@link #maxInlineBytes(int)}: 64 KiB, one default flow-control window, so that an
   * inline message never holds more of the aggregator's memory than a waiting upload does.
   */
  public static final int DEFAULT_MAX_INLINE_BYTES = 64 * 1024;
  private volatile int maxInlineBytes = DEFAULT_MAX_INLINE_BYTES;

  /**
   * Sets the most parameter data bytes that travel inline on the control stream, both ways: the
   * global parameters in the task, a learner's update in its result (see {@link InlineParameters}).
   * Larger parameters, and learners that do not offer inline transfers, use the download and
   * upload calls. Applies to learners that join afterwards.
   *
   * @param bytes from 0 (inline transfers off) to {@link InlineParameters#MAX_INLINE_BYTES}
   * @throws IllegalArgumentException if out of range
   */
  public void maxInlineBytes(int bytes) {
    if (bytes < 0 || bytes > InlineParameters.MAX_INLINE_BYTES) {
      throw new IllegalArgumentException(String.format(
          "maxInlineBytes must be in [0, %d] but was %d", InlineParameters.MAX_INLINE_BYTES, bytes));
    }
    this.maxInlineBytes = bytes;
  }

  /** The server's HTTP/2 window per stream, for the direct-memory advice; 64 KiB until set. */
  private volatile int streamWindow = 64 * 1024;

  /**
   * Tells the service the server's per-stream flow-control window, which bounds what each waiting
   * upload holds here: it sizes the advice when a transfer runs out of direct memory.
   *
   * @param bytes the window, at least 1
   * @throws IllegalArgumentException if below 1
   */
  public void streamWindow(int bytes) {
    if (bytes < 1) {
      throw new IllegalArgumentException("streamWindow must be at least 1 but was " + bytes);
    }
    this.streamWindow = bytes;
  }

  /** The global model's bytes for the direct-memory advice; set when the aggregator starts. */
  private volatile long directMemoryModelBytes;
  /**
   * The fewest learners whose join may warn: those whose share first makes the advice exceed the
   * limit, or, if the check at start warned already, those whose share reaches 1 MiB.
   */
  private volatile int directMemoryFirstWarning = Integer.MAX_VALUE;
  /** The learner count at the last direct-memory warning; 0 before any. */
  private final AtomicInteger directMemoryWarnedAt = new AtomicInteger();

  /**
   * Checks the JVM's direct memory against what the aggregator needs for this model before any
   * learner has joined ({@link DirectMemory.Budget#check()}), and remembers the model's size, so
   * that the learners who join later are counted too: the service warns when their share makes
   * the advice exceed the limit, first when the limit falls short (or, if this check already
   * warned, once their share reaches 1 MiB), then each time their number has doubled.
   *
   * @param modelBytes the global model's data bytes, at least 0
   * @return the warning to log if only the advice does not fit, else empty
   * @throws IllegalStateException if a round cannot fit: the aggregator must not start
   */
  public Optional<String> checkDirectMemory(long modelBytes) {
    DirectMemory.Budget budget = directMemoryBudget(modelBytes, 0);
    Optional<String> warning = budget.check();
    long perLearner = Math.max(1, budget.perLearnerBytes());
    long first = warning.isPresent() ? ((1L << 20) + perLearner - 1) / perLearner
        : (budget.limit() - budget.advisedBytes()) / perLearner + 1;
    directMemoryFirstWarning = (int) Math.min(Integer.MAX_VALUE, first);
    directMemoryModelBytes = modelBytes;
    return warning;
  }

  /** Warns when {@code learners} connected learners make the advice exceed the JVM's limit. */
  private void checkDirectMemory(int learners) {
    int warnedAt = directMemoryWarnedAt.get();
    if (learners < directMemoryFirstWarning || (warnedAt > 0 && learners < 2 * warnedAt)) {
      return;
    }
    directMemoryBudget(directMemoryModelBytes, learners).check()
        .filter(warning -> directMemoryWarnedAt.compareAndSet(warnedAt, learners))
        .ifPresent(warning -> log.warn("with {} learner{} connected, {}", learners,
            learners == 1 ? "" : "s", warning));
  }

  /** This service's direct-memory budget for a model and a number of connected learners. */
  private DirectMemory.Budget directMemoryBudget(long modelBytes, int learners) {
    return DirectMemory.budget(modelBytes, uploadSlots.capacity(), downloadSlots.capacity(),
        perLearnerDirectBytes(), learners);
  }

  /** What each connected learner may hold in netty's buffers here ({@link DirectMemory}). */
  public long perLearnerDirectBytes() {
    return DirectMemory.Budget.perLearner(streamWindow, maxInlineBytes);
  }
  /** Protobuf bytes of parameter downloads sent and uploads received, since the start. */
  private final AtomicLong bytesSent = new AtomicLong();
  private final AtomicLong bytesReceived = new AtomicLong();

  /**
   * Returns the bytes of parameter data sent to learners so far: the serialized size of every
   * download message (manifest and chunks), without gRPC and HTTP/2 framing.
   */
  public long bytesSent() {
    return bytesSent.get();
  }

  /**
   * Returns the bytes of parameter data received from learners so far: the serialized size of
   * every upload message (header and chunks), rejected uploads included.
   */
  public long bytesReceived() {
    return bytesReceived.get();
  }

  private volatile UploadLimits uploadLimits = UploadLimits.GLOBAL_MODEL;
  private volatile ReportChecks reportChecks = new ReportChecks(RoundRanking.defaults());

  /** Sets the ranking of rounds, whose metric every arriving result must report as a number. */
  private void rankRoundsBy(RoundRanking ranking) {
    this.reportChecks = new ReportChecks(java.util.Objects.requireNonNull(ranking, "ranking"));
  }

  @Override
  public void prepare(Parameters global, RoundRanking ranking) {
    checkUploadLimits(global);
    rankRoundsBy(ranking);
  }

  @Override
  public Traffic traffic() {
    return new Traffic(bytesSent.get(), bytesReceived.get());
  }

  @Override
  public List<String> connected() {
    return availableLearners();
  }

  @Override
  public Phase dispatch(int round, PhaseKind kind, Parameters global, String parametersId,
      List<Assignment> assignments, UpdateSink updates) {
    if (encoded == null || !parametersId.equals(encodedId)) {
      encoded = new DownloadSource(EncodedParameters.encode(global));
      encodedId = parametersId;
      inline = encoded.encoded().manifest().getTotalBytes() <= maxInlineBytes
          ? InlineParameters.encode(encoded.encoded()) : null;
      downloadSources.addLast(encoded);
      while (downloadSources.size() > 2) {
        downloadSources.removeFirst().retire(); // every phase that sent it has ended
      }
    }
    beginRound(round, kind == PhaseKind.FIT ? updates : null);
    TaskKind taskKind = kind == PhaseKind.FIT ? TaskKind.FIT : TaskKind.EVALUATE;
    List<PendingTask> sent = new ArrayList<>(assignments.size());
    for (Assignment assignment : assignments) {
      sent.add(assign(assignment.learnerId(), round, taskKind, assignment.config(), encoded,
          global, parametersId));
    }
    return new TaskPhase(this, sent);
  }

  @Override
  public void retireDownloads(Parameters parameters) {
    for (Iterator<DownloadSource> it = downloadSources.iterator(); it.hasNext(); ) {
      DownloadSource source = it.next();
      if (source.encodes(parameters)) {
        source.retire();
        it.remove();
        if (source == encoded) {
          encoded = null;
          encodedId = null;
          inline = null;
        }
      }
    }
  }

  /** Names a learner for a refusal: its id and, if it gave one, its name. */
  private String describeLearner(String learnerId) {
    LearnerSession session = members.session(learnerId);
    return session == null ? learnerId : session.toString();
  }

  /** Sets the largest update manifest considered; the default is the global model's size. */
  public void uploadLimits(UploadLimits limits) {
    this.uploadLimits = java.util.Objects.requireNonNull(limits, "limits");
  }

  /**
   * Checks that the upload limits admit an update of the global model's structure.
   *
   * @throws IllegalStateException naming the knob otherwise
   */
  private void checkUploadLimits(Parameters global) {
    uploadLimits.checkAdmits(global);
  }

  /**
   * Creates the service.
   *
   * @param maxInFlightUploads the most updates buffered at once; further uploads wait under gRPC
   *     flow control
   */
  public FederationService(int maxInFlightUploads) {
    this(maxInFlightUploads, DEFAULT_MAX_CONCURRENT_DOWNLOADS);
  }

  /**
   * Creates the service.
   *
   * @param maxInFlightUploads the most updates buffered at once; further uploads wait under gRPC
   *     flow control
   * @param maxConcurrentDownloads the most learners streamed to at once; further downloads wait
   */
  public FederationService(int maxInFlightUploads, int maxConcurrentDownloads) {
    this.uploadSlots = new TransferSlots(maxInFlightUploads);
    this.downloadSlots = new TransferSlots(maxConcurrentDownloads);
  }

  /** The bounded pool that in-flight uploads are decoded into. */
  public TransferSlots uploadSlots() {
    return uploadSlots;
  }

  /** The pool that bounds the downloads streamed at once. */
  public TransferSlots downloadSlots() {
    return downloadSlots;
  }

  /** Returns the ids of the learners connected now, in the order they joined. */
  public List<String> availableLearners() {
    return members.available();
  }

  /**
   * Waits until at least {@code count} learners are connected, logging the wait so that a person
   * watching sees what the aggregator waits for.
   *
   * @throws TimeoutException naming how many came, if fewer than {@code count} came in time
   */
  @Override
  public List<String> awaitLearners(int count, Duration timeout, Duration progressInterval)
      throws InterruptedException, TimeoutException {
    return members.await(count, timeout, progressInterval);
  }

  /**
   * Returns the identities handed out so far, learner key to learner id, for a checkpoint: an
   * aggregator resumed from it gives a reconnecting learner its previous id.
   */
  @Override
  public Map<String, String> identities() {
    return members.identities();
  }

  /**
   * Restores identities saved by {@link #identities()}. A learner that connected before (to this
   * new server, so it got a fresh id) and whose id now belongs to another identity, or whose key
   * was saved under another id, is asked to reconnect: it then joins with its saved id.
   */
  @Override
  public void restoreIdentities(Map<String, String> saved) {
    for (LearnerSession session : members.restore(saved)) {
      log.info("learner {} joined before the checkpoint was read; its identity there differs, "
          + "so it is asked to reconnect", session);
      session.abort(WireError.REPLACED.exception("the aggregator restored the learner "
          + "identities of its checkpoint; reconnect to take yours"));
    }
  }

  /** Starts a round: from now on only traffic for {@code round} is accepted. */
  private void beginRound(long round, UpdateSink updates) {
    synchronized (foldLock) {
      this.currentRound = round;
      this.sink = updates;
    }
  }

  /**
   * Gives a learner a task on the global parameters named {@code parametersId} (see the protocol's
   * {@code Task.parameters_id}: a learner that holds them already skips the download) and sends
   * it. A learner that is no longer connected gets a task that has already failed.
   */
  private PendingTask assign(String learnerId, long round, TaskKind kind, Config config,
      DownloadSource download, Parameters global, String parametersId) {
    String taskId = "r" + round + "-" + kind.name().toLowerCase() + "-" + taskIds.incrementAndGet();
    PendingTask task = new PendingTask(taskId, learnerId, round, kind, download, global);
    LearnerSession session = members.session(learnerId);
    task.session = session;
    tasks.put(taskId, task);
    Task.Builder body = Task.newBuilder()
        .setTaskId(taskId)
        .setKind(kind)
        .setParametersId(parametersId)
        .setCapability(task.capability)
        .putAllConfig(Scalars.toWire(config));
    if (inline != null && session != null
        && download.encoded().manifest().getTotalBytes() <= session.inlineBytes
        && body.build().getSerializedSize() + inline.getSerializedSize() + 64
            <= WireProtocol.MAX_MESSAGE_BYTES) { // a huge config leaves the data to the download
      body.setParameters(inline);
      bytesSent.addAndGet(inline.getSerializedSize());
    }
    AggregatorMessage message = AggregatorMessage.newBuilder()
        .setEnvelope(WireProtocol.envelope(round))
        .setTask(body)
        .build();
    if (session == null || !session.send(message)) {
      task.fail(Kind.DISCONNECTED, "learner " + learnerId + " disconnected before it got the task");
    }
    return task;
  }

  /**
   * Ends the given tasks at the round timeout: those still pending fail with {@code reason}, as
   * {@link Kind#TIMED_OUT}. After this returns no update of these tasks can be folded any more.
   */
  void expire(List<PendingTask> roundTasks, String reason) {
    synchronized (foldLock) {
      for (PendingTask task : roundTasks) {
        if (task.fail(Kind.TIMED_OUT, reason)) {
          log.warn("{} failed: {}", task, reason);
        }
      }
    }
  }

  /** Forgets the tasks of a finished round and stops folding. */
  void endRound(List<PendingTask> roundTasks) {
    synchronized (foldLock) {
      sink = null;
      roundTasks.forEach(task -> {
        tasks.remove(task.taskId);
        endedTasks.remember(task);
      });
    }
  }

  /**
   * Ends the federation: tells every connected learner to shut down, with the outcome, and closes
   * their streams. From now on a learner that joins is told the same at once instead of being
   * admitted, until the server closes. Only the first call's outcome counts: closing the
   * aggregator after a failed training still tells late learners that it failed.
   *
   * @param outcome how the federation ended
   * @param reason what the learners log, e.g. "training failed: round 2: ..."
   */
  public void shutdownLearners(FederationOutcome outcome, String reason) {
    Map.Entry<Membership.Ending, List<LearnerSession>> end =
        members.end(new Membership.Ending(outcome, capped(reason)));
    for (LearnerSession session : end.getValue()) {
      session.shutdown(end.getKey().outcome(), end.getKey().reason());
    }
  }

  /**
   * Returns the name the learner joined with, for messages about it.
   *
   * @param learnerId the id the aggregator gave it
   * @return its name, or null if no learner joined with this id
   */
  @Override
  public String learnerName(String learnerId) {
    return members.name(learnerId);
  }

  /** The aggregator's permitKeepAliveTime in milliseconds, told to learners in Welcome. */
  private volatile long permitKeepAliveMillis;

  /**
   * Sets the shortest keepalive ping interval the server permits (its {@code
   * permitKeepAliveTime}). A learner whose Hello says it pings more often is welcomed with this
   * value but not admitted, so that it reconnects with a keepalive the server accepts before any
   * task is sent over a connection gRPC would close with {@code too_many_pings}.
   *
   * @param permit the server's permitKeepAliveTime
   */
  public void permitKeepAliveTime(Duration permit) {
    this.permitKeepAliveMillis = permit.toMillis();
  }

  @Override
  public StreamObserver<LearnerMessage> connect(StreamObserver<AggregatorMessage> outbound) {
    return new ControlStream(outbound);
  }

  /**
   * Streams a task's parameters. Registered by {@link TransferBinding} in place of the generated
   * {@code downloadParameters}, so that chunks go out as {@link WireFrame}s read from the tensors.
   */
  void downloadFrames(
      DownloadRequest request, StreamObserver<WireFrame<ParameterMessage>> responseObserver) {
    try {
      WireProtocol.checkVersion(request.getEnvelope());
      PendingTask task = transferTask(request.getTaskId(), request.getLearnerId(),
          request.getCapability(), request.getEnvelope());
      if (task.isDone()) {
        throw WireError.TASK_ENDED.exception(task + " has already ended: " + task.describeEnd());
      }
      ParameterStreamer.start(
          (ServerCallStreamObserver<WireFrame<ParameterMessage>>) responseObserver,
          task.download, task.round, bytesSent, downloadSlots, error -> {
            String why = outOfMemory(error, task.global);
            if (task.fail(Kind.OTHER, "the download failed: " + why)) {
              log.warn("{} failed: the download failed: {}", task, why);
            }
            return why;
          });
    } catch (WireFormatException e) {
      responseObserver.onError(capped(e.toStatusException()));
    } catch (StatusRuntimeException e) {
      log.warn("download refused for learner {}: {}", capped(request.getLearnerId()),
          capped(e.getStatus().getDescription()));
      responseObserver.onError(capped(e));
    } catch (RuntimeException e) {
      responseObserver.onError(Refusals.fault(log, "starting a download for learner '"
          + capped(request.getLearnerId()) + "'", e));
    }
  }

  @Override
  public StreamObserver<UploadMessage> uploadUpdate(StreamObserver<UploadReceipt> responseObserver) {
    return TransferBinding.framesOf(uploadFrames(responseObserver));
  }

  /**
   * As {@link #uploadUpdate}, for uploads whose chunks arrive as {@link WireFrame}s still in the
   * receive buffers ({@link TransferBinding}).
   */
  StreamObserver<WireFrame<UploadMessage>> uploadFrames(
      StreamObserver<UploadReceipt> responseObserver) {
    ServerCallStreamObserver<UploadReceipt> call =
        (ServerCallStreamObserver<UploadReceipt>) responseObserver;
    // Manual flow control: the next message is read only once the previous one is processed, and
    // the chunks only once the upload holds a slot, so a waiting upload costs no memory here.
    call.disableAutoRequest();
    call.request(1);
    return new Upload(call);
  }

  /**
   * Makes {@code owned} the task of the update being received (an upload or an inline update).
   *
   * @throws StatusRuntimeException WRONG_TASK_KIND or DUPLICATE_UPLOAD; the task is not failed
   */
  private static void claimUpdate(PendingTask owned) {
    if (owned.kind != TaskKind.FIT) {
      throw WireError.WRONG_TASK_KIND.exception(owned + " is not a fit task");
    }
    if (!owned.claimUpload()) {
      // Not this upload's task: refusing it must not fail the task of the first upload.
      throw WireError.DUPLICATE_UPLOAD.exception(String.format(
          "%s already has an upload (%s); a fit task takes exactly one upload", owned,
          owned.isDone() ? owned.describeEnd() : "it is still streaming"));
    }
  }

  /**
   * Checks an update's header against its claimed task, cheapest and most fundamental first,
   * before anything is allocated for the update.
   *
   * @throws StatusRuntimeException or {@link WireFormatException} saying what is wrong
   */
  private void checkUpdate(PendingTask task, UploadHeader h) {
    if (task.isDone()) {
      throw WireError.TASK_ENDED.exception(task + " has already ended: " + task.describeEnd());
    }
    uploadLimits.checkTensorCount(h.getManifest(), task.global).ifPresent(refusal -> {
      throw refusal;
    });
    try {
      reportChecks.fitHeader(h);
    } catch (IllegalArgumentException e) {
      throw new WireFormatException(WireError.RESULT_INVALID,
          describeLearner(task.learnerId) + ": " + e.getMessage());
    }
    Manifests.describeMismatch(h.getManifest(), task.global).ifPresent(mismatch -> {
      throw new WireFormatException(WireError.MANIFEST_MISMATCH,
          "the update does not match the global model: " + mismatch);
    });
    uploadLimits.checkBytes(h.getManifest(), task.global).ifPresent(refusal -> {
      throw refusal;
    });
    Manifests.checkWellFormed(h.getManifest());
  }

  /**
   * Folds a validated update into the round's aggregate and completes its task.
   *
   * @return null once folded, or the refusal to send (the task is not failed yet)
   */
  private StatusRuntimeException fold(PendingTask task, FitResult result) {
    synchronized (foldLock) {
      if (task.isDone() || sink == null) {
        return WireError.TASK_ENDED.exception(
            task + " has already ended: " + task.describeEnd() + "; late update discarded");
      }
      try {
        sink.accept(task.learnerId, result);
      } catch (OutOfMemoryError e) {
        return WireError.OUT_OF_MEMORY.exception(outOfMemory(e, task.global));
      } catch (InvalidResultException e) {
        // The kernel cannot represent what this learner sent (e.g. the exact kernel's range).
        return WireError.RESULT_INVALID.exception(
            describeLearner(task.learnerId) + ": " + e.getMessage());
      } catch (RuntimeException e) {
        // Most likely the strategy's own code: the update was valid.
        return Refusals.fault(log, "folding the update of " + task
            + " into the round's aggregate", e);
      }
      task.succeed(null);
      return null;
    }
  }

  /** The task a download or upload acts for, once it proved it may ({@link TaskCapability}). */
  private PendingTask transferTask(String taskId, String learnerId, ByteString capability,
      Envelope envelope) {
    EndedTasks.Ended ended = tasks.containsKey(taskId) ? null
        : endedTasks.findForTransfer(taskId, capability);
    if (ended != null) {
      // The task's own learner, late: say how the task really ended rather than guess.
      throw WireError.UNKNOWN_TASK.exception("no pending task '" + taskId + "': it has ended: "
              + ended.description() + "; a late update is discarded");
    }
    PendingTask task = pendingTask(taskId);
    TaskCapability.checkTransfer(task, learnerId, capability);
    return inRound(task, envelope);
  }

  /** The task a message on {@code session}'s own control stream is about. */
  private PendingTask sessionTask(String taskId, LearnerSession session, Envelope envelope) {
    PendingTask task = tasks.get(taskId);
    if (task == null) {
      // Reports about this session's own ended tasks are handled before (aboutEndedTask): what
      // is left is a task this connection was never given.
      throw WireError.UNKNOWN_TASK.exception("this connection was never given a task '" + taskId
              + "' (or it ended more than " + EndedTasks.CAPACITY + " tasks ago)");
    }
    if (task.session != session) {
      throw WireError.CAPABILITY
          .exception("task '" + taskId + "' belongs to another learner or connection");
    }
    return inRound(task, envelope);
  }

  private PendingTask pendingTask(String taskId) {
    PendingTask task = tasks.get(taskId);
    if (task == null) {
      throw WireError.UNKNOWN_TASK
          .exception("no pending task '" + taskId + "': it has ended (timed out, or its "
              + "round is over) or never existed; a late update is discarded");
    }
    return task;
  }

  private PendingTask inRound(PendingTask task, Envelope envelope) {
    String taskId = task.taskId;
    if (envelope.getRound() != task.round || task.round != currentRound) {
      throw WireError.STALE_ROUND.exception(String.format(
              "message is for round %d but task '%s' is in round %d and the aggregator is in "
                  + "round %d", envelope.getRound(), taskId, task.round, currentRound));
    }
    return task;
  }

  /** Says that a transfer found no direct memory, what the model needs, and what to change. */
  private String outOfMemory(OutOfMemoryError error, Parameters global) {
    return directMemoryBudget(global.byteSize(), availableLearners().size()).exhausted(error);
  }

  /** The longest status description sent back; a peer's own strings must not bloat trailers. */
  static final int MAX_DESCRIPTION_CHARS = 1000;

  /** Shortens a status description that quotes too much of a peer's message. */
  static Status capped(Status status) {
    String description = status.getDescription();
    return description == null || description.length() <= MAX_DESCRIPTION_CHARS
        ? status : status.withDescription(capped(description));
  }

  /** Shortens a refusal's description, keeping its code. */
  static StatusRuntimeException capped(StatusRuntimeException refusal) {
    return capped(refusal.getStatus()).asRuntimeException(refusal.getTrailers());
  }

  static String capped(String text) {
    return text == null || text.length() <= MAX_DESCRIPTION_CHARS ? text
        : text.substring(0, MAX_DESCRIPTION_CHARS) + "... (" + (text.length() - MAX_DESCRIPTION_CHARS)
            + " more characters)";
  }

  /** Fails the pending tasks that were sent over {@code session}, which has ended. */
  private void failTasksOf(LearnerSession session, String why) {
    for (PendingTask task : tasks.values()) {
      if (task.session == session && task.fail(Kind.DISCONNECTED, "learner " + why)) {
        log.warn("{} failed: learner {}", task, why);
      }
    }
  }

  /** One learner's control stream. */
  private final class ControlStream implements StreamObserver<LearnerMessage> {
    private final StreamObserver<AggregatorMessage> outbound;
    private LearnerSession session;
    private boolean closed;
    /** The learner's keepalive time as its Hello says, in milliseconds; 0 if not said. */
    private long keepAliveMillis;
    private final long openedNanos = System.nanoTime();
    /** Whether the session counts as a member; false while it pings more often than permitted. */
    private boolean admitted;
    /** The most data bytes the learner's Hello takes and sends inline; 0 if not offered. */
    private long inlineOffer;

    ControlStream(StreamObserver<AggregatorMessage> outbound) {
      this.outbound = outbound;
    }

    @Override
    public void onNext(LearnerMessage message) {
      if (closed) {
        return;
      }
      try {
        WireProtocol.checkVersion(message.getEnvelope());
        if (session == null) {
          if (!message.hasHello()) {
            throw WireError.OUT_OF_ORDER.exception("the first message of a learner must be Hello");
          }
          keepAliveMillis = message.getHello().getKeepaliveTimeMs();
          inlineOffer = message.getHello().getMaxInlineBytes();
          join(message.getHello().getLearnerName(), message.getHello().getLearnerKey());
          return;
        }
        if (!admitted) {
          throw WireError.NOT_ADMITTED.exception("this connection was not admitted: "
              + "it pings more often than permitKeepAliveTime; reconnect with a keepalive of at "
              + "least " + permitKeepAliveMillis + " ms");
        }
        switch (message.getBodyCase()) {
          case EVALUATE_RESULT -> {
            if (!aboutEndedTask(message.getEvaluateResult().getTaskId(), true)) {
              evaluated(message);
            }
          }
          case INLINE_UPDATE -> inlineUpdate(message.getInlineUpdate(), message.getEnvelope());
          case TASK_FAILURE -> {
            if (aboutEndedTask(message.getTaskFailure().getTaskId(), false)) {
              return;
            }
            PendingTask task = sessionTask(message.getTaskFailure().getTaskId(), session,
                message.getEnvelope());
            Kind kind = switch (message.getTaskFailure().getCause()) {
              case TRANSFER_BROKEN -> Kind.DISCONNECTED;
              case TRANSFER_REFUSED -> Kind.OTHER; // the aggregator's own refusal, reported back
              // Found on the learner but of the same kind as the aggregator's own refusals of
              // wrong shapes and NaNs: the same learner would fail the same way again.
              case MODEL_MISMATCH, RESULT_INVALID -> Kind.REJECTED;
              default -> Kind.LEARNER_ERROR;
            };
            if (task.fail(kind, "learner reported: " + message.getTaskFailure().getMessage())) {
              log.warn("{} failed on the learner: {}", task, message.getTaskFailure().getMessage());
            }
          }
          default -> throw WireError.MALFORMED_MESSAGE
              .exception("unexpected " + message.getBodyCase() + " on the control stream");
        }
      } catch (WireFormatException e) {
        close(e.toStatusException());
      } catch (StatusRuntimeException e) {
        if (session == null) {
          close(e);
        } else {
          // A bad result costs that task, not the learner's membership.
          log.warn("ignored a message from learner {}: {}", session, e.getStatus().getDescription());
        }
      } catch (RuntimeException e) {
        close(Refusals.fault(log, "handling a " + message.getBodyCase() + " message of "
            + (session == null ? "a learner that had not joined" : "learner " + session), e));
      }
    }

    /**
     * Returns whether a report is about one of this session's own tasks that has already ended,
     * and logs it as the expected traffic it is: the learner's report of an upload the aggregator
     * refused crosses that refusal, which already failed the task and may have ended its round.
     * Only a result that arrives after its task timed out is worth an INFO line; nothing else
     * here deserves a warning. A task that never was this session's returns false, so that it is
     * still refused and logged as the protocol violation it is.
     */
    private boolean aboutEndedTask(String taskId, boolean result) {
      String what = result ? "its evaluation" : "a failure report";
      PendingTask task = tasks.get(taskId);
      EndedTasks.Ended ended;
      if (task != null) {
        TaskOutcome outcome = task.outcome().getNow(null);
        if (task.session != session || outcome == null) {
          return false;
        }
        ended = EndedTasks.of(task, outcome);
      } else {
        ended = endedTasks.find(taskId, session);
        if (ended == null) {
          return false;
        }
      }
      if (ended.timedOut() && result) {
        log.info("learner {} sent {} for task '{}' after the task had ended ({}): discarded",
            session, what, taskId, ended.description());
      } else {
        log.debug("learner {} sent {} for task '{}', which had already ended ({}): nothing to do",
            session, what, taskId, ended.description());
      }
      return true;
    }

    private void join(String name, String key) {
      String authenticated = LearnerAuthenticator.AUTHENTICATED_NAME.get();
      if (authenticated != null && !authenticated.equals(name)) {
        throw WireError.IDENTITY.exception(String.format(
                "this token belongs to learner '%s' but the learner calls itself '%s'; run it "
                    + "with name '%s' or give it the token issued for '%s'",
                authenticated, name, authenticated, name));
      }
      if (key.length() > MAX_LEARNER_KEY_CHARS) {
        throw WireError.MALFORMED_MESSAGE.exception(String.format(
                "the learner key holds %d characters; at most %d are allowed",
                key.length(), MAX_LEARNER_KEY_CHARS));
      }
      long pings = keepAliveMillis;
      long permit = permitKeepAliveMillis;
      Membership.Joined joined = members.join(name, key, Caller.current(), outbound, pings, permit,
          Math.min(inlineOffer, maxInlineBytes));
      if (joined.ending() != null) {
        // Arrived between the end of the federation and the server's close: say so now, or
        // the learner would wait here until the close and then retry for its connectTimeout.
        closed = true;
        new LearnerSession("", name, Caller.current(), outbound)
            .shutdown(joined.ending().outcome(), joined.ending().reason());
        log.info("learner '{}' connected after the federation ended; told it: {}", name,
            joined.ending().reason());
        return;
      }
      session = joined.session();
      if (!joined.admitted()) {
        // gRPC would close this connection with too_many_pings during a long fit: no task goes
        // over it. The learner reconnects with a keepalive of at least the permit.
        log.info("learner {} pings every {} ms but this aggregator permits one ping per {} ms "
            + "(permitKeepAliveTime): not admitted on this connection; it reconnects with a "
            + "keepalive of at least {} ms", session, pings, permit, permit);
        return;
      }
      admitted = true;
      LearnerSession previous = joined.previous();
      boolean known = joined.known();
      if (previous != null) {
        // The learner's old connection is dead on its side (it only reconnects once that one has
        // ended) even if this side has not noticed yet: its tasks cannot complete any more.
        previous.abort(WireError.REPLACED.exception(
            "replaced by a newer connection of the same learner"));
        failTasksOf(previous, "reconnected; the task of its previous connection is void");
      }
      log.info("learner {} {} ({} connected)", session,
          previous != null ? "reconnected, replacing its previous connection"
              : known ? "rejoined" : "joined",
          joined.connected());
      checkDirectMemory(joined.connected());
    }

    /**
     * Takes a fit result whose update came inline: checked like an upload (the task's
     * capability, on the stream the task was sent over; the header; the inline size; the same
     * decoder's checksum and finite scan; the reported numbers), and refused with a {@link
     * TaskRefusal} on this stream instead of an error status. A refusal after the claim fails the
     * task, as a refused upload does; the learner stays.
     */
    private void inlineUpdate(InlineUpdate update, Envelope envelope) {
      UploadHeader h = update.getHeader();
      bytesReceived.addAndGet(update.getSerializedSize());
      PendingTask claimed = null;
      try {
        PendingTask task = sessionTask(h.getTaskId(), session, envelope);
        TaskCapability.checkTransfer(task, h.getLearnerId(), h.getCapability());
        claimUpdate(task);
        claimed = task;
        long inlineBytes = session.inlineBytes;
        if (h.getManifest().getTotalBytes() > inlineBytes) {
          throw WireError.LIMIT_EXCEEDED.exception(String.format(
              "an inline update may hold at most %d bytes (the smaller of the learner's offer "
                  + "and the aggregator's maxInlineBytes) but this one declares %d; send it "
                  + "with UploadUpdate", inlineBytes, h.getManifest().getTotalBytes()));
        }
        checkUpdate(task, h);
        FitResult result = reportChecks.fitResult(
            InlineParameters.decode(h.getManifest(), update.getData(), ParameterDecoder.HEAP), h);
        StatusRuntimeException refusal = fold(task, result);
        if (refusal != null) {
          throw refusal;
        }
      } catch (WireFormatException e) {
        refuseInline(h.getTaskId(), claimed, e.toStatusException());
      } catch (StatusRuntimeException e) {
        refuseInline(h.getTaskId(), claimed, e);
      } catch (IllegalArgumentException e) {
        refuseInline(h.getTaskId(), claimed, WireError.RESULT_INVALID.exception(
            describeLearner(claimed != null ? claimed.learnerId : session.id) + ": "
                + e.getMessage()));
      } catch (RuntimeException e) {
        refuseInline(h.getTaskId(), claimed,
            Refusals.fault(log, "handling the inline update of task '" + h.getTaskId() + "'", e));
      }
    }

    private void refuseInline(String taskId, PendingTask claimed, StatusRuntimeException refusal) {
      StatusRuntimeException sent = capped(refusal);
      String description = sent.getStatus().getDescription();
      WireError code = Refusals.codeOf(refusal);
      if (code != WireError.AGGREGATOR_FAULT) { // a fault is logged already, once
        log.warn("rejected the inline update of {}: {}",
            claimed != null ? claimed.toString() : "task '" + capped(taskId) + "'", description);
      }
      if (claimed != null) {
        claimed.fail(Refusals.kindOf(code), "update rejected: " + description);
      }
      TaskRefusal.Builder body = TaskRefusal.newBuilder().setTaskId(capped(taskId))
          .setDescription(description == null ? "" : description);
      if (code != null) {
        body.setCode(code.name());
      }
      session.send(AggregatorMessage.newBuilder()
          .setEnvelope(WireProtocol.envelope(claimed != null ? claimed.round : currentRound))
          .setTaskRefusal(body)
          .build());
    }

    private void evaluated(LearnerMessage message) {
      var result = message.getEvaluateResult();
      PendingTask task = sessionTask(result.getTaskId(), session, message.getEnvelope());
      if (task.kind != TaskKind.EVALUATE) {
        throw WireError.WRONG_TASK_KIND.exception(task + " is not an evaluate task");
      }
      EvaluateResult evaluation;
      try {
        evaluation = reportChecks.evaluation(result);
      } catch (IllegalArgumentException e) {
        // Only this task fails: the learner stays, and the round averages the others.
        String reason = session + ": evaluation refused: " + capped(e.getMessage());
        if (task.fail(Kind.REJECTED, reason)) {
          log.warn("{}: {}", task, reason);
        }
        return;
      }
      if (!task.succeed(evaluation)) {
        log.info("{}: late evaluation result discarded ({})", task, task.describeEnd());
      }
    }

    private void close(StatusRuntimeException refusal) {
      StatusRuntimeException sent = capped(refusal);
      String description = sent.getStatus().getDescription();
      closed = true;
      if (Refusals.codeOf(refusal) == WireError.AGGREGATOR_FAULT) {
        leave("was disconnected by an aggregator fault (logged above)"); // not the fault again
      } else {
        log.warn("closing the control stream of {}: {}",
            session == null ? "a learner that had not joined" : session, description);
        leave("refused: " + description);
      }
      outbound.onError(sent);
    }

    @Override
    public void onError(Throwable t) {
      if (!closed) {
        closed = true;
        Status status = Status.fromThrowable(t);
        long permit = permitKeepAliveMillis;
        long openMillis = (System.nanoTime() - openedNanos) / 1_000_000;
        if (session != null && keepAliveMillis > 0 && keepAliveMillis < permit
            && openMillis >= keepAliveMillis) {
          // gRPC does not tell the service why it closed a connection; a learner that pinged
          // more often than permitted, for long enough to have pinged, has most likely been sent
          // GOAWAY too_many_pings.
          log.warn("learner {} disconnected ({}): it pings every {} ms but this aggregator "
                  + "permits one ping per {} ms, so gRPC most likely closed its connection with "
                  + "too_many_pings; raise the learner's keepAlive time to at least {} ms, or "
                  + "lower the aggregator's permitKeepAliveTime to {} ms", session,
              status.getCode(), keepAliveMillis, permit, permit, keepAliveMillis);
        }
        leave("disconnected: " + status.getCode());
      }
    }

    @Override
    public void onCompleted() {
      if (!closed) {
        closed = true;
        leave("left");
        try {
          outbound.onCompleted();
        } catch (RuntimeException ignored) {
          // Already closed by a shutdown.
        }
      }
    }

    private void leave(String why) {
      if (session == null) {
        return;
      }
      session.markClosed();
      // A learner that reconnected already holds a new session under the same id: keep that one.
      boolean current = members.leave(session);
      failTasksOf(session, why);
      if (current) {
        log.info("learner {} {} ({} connected)", session, why, availableLearners().size());
      }
    }
  }

  /**
   * One learner's upload of a fit result. gRPC calls its observer methods one at a time; the slot
   * grant comes from another thread, hence the lock.
   */
  private final class Upload implements StreamObserver<WireFrame<UploadMessage>> {
    private final ServerCallStreamObserver<UploadReceipt> response;
    private PendingTask task;
    private UploadHeader header;
    private TransferSlots.Request slot;
    private ParameterDecoder decoder;
    private boolean closed;

    Upload(ServerCallStreamObserver<UploadReceipt> response) {
      this.response = response;
    }

    @Override
    public synchronized void onNext(WireFrame<UploadMessage> frame) {
      UploadMessage message = frame.message();
      bytesReceived.addAndGet(frame.serializedSize());
      if (closed) {
        return;
      }
      try {
        WireProtocol.checkVersion(message.getEnvelope());
        if (header == null) {
          if (!message.hasHeader()) {
            throw new WireFormatException(WireError.MALFORMED_MESSAGE,
                "an upload must start with its header");
          }
          start(message.getHeader(), message.getEnvelope());
        } else {
          if (!message.hasChunk()) {
            throw new WireFormatException(WireError.MALFORMED_MESSAGE,
                "an upload carries one header, then only chunks");
          }
          if (message.getEnvelope().getRound() != task.round) {
            throw WireError.STALE_ROUND.exception(String.format(
                "chunk %d is for round %d but the upload is for round %d",
                message.getChunk().getIndex(), message.getEnvelope().getRound(), task.round));
          }
          if (decoder == null) {
            throw new IllegalStateException(task + ": a chunk arrived before the upload had a slot");
          }
          decoder.accept(message.getChunk().getIndex(), frame.chunkData());
          response.request(1);
        }
      } catch (WireFormatException e) {
        reject(e.toStatusException());
      } catch (StatusRuntimeException e) {
        reject(e);
      } catch (RuntimeException e) {
        reject(Refusals.fault(log, "handling " + uploadOf(), e));
      }
    }

    /**
     * Checks the header, cheapest and most fundamental first, and allocates the update's buffers
     * only once the manifest is known to be within the limits and to match the global model.
     */
    private void start(UploadHeader h, Envelope envelope) {
      PendingTask owned =
          transferTask(h.getTaskId(), h.getLearnerId(), h.getCapability(), envelope);
      claimUpdate(owned);
      task = owned;
      header = h;
      checkUpdate(task, h);
      TransferSlots.Request request = uploadSlots.acquire(this::granted);
      if (closed) {
        request.close(); // granted at once, and refused in granted(): give the slot back
      } else {
        slot = request;
      }
    }

    /** The upload holds a slot: decode into it and read on. */
    private synchronized void granted(TransferSlots.Slot granted) {
      if (closed) {
        return;
      }
      try {
        decoder = new ParameterDecoder(header.getManifest(), granted);
      } catch (WireFormatException e) {
        reject(e.toStatusException());
        return;
      } catch (OutOfMemoryError e) {
        // Caught here, where the slot is known: left to gRPC it would kill the call with UNKNOWN,
        // keep the slot for ever and leave the task to time out.
        reject(WireError.OUT_OF_MEMORY.exception(outOfMemory(e, task.global)));
        return;
      } catch (RuntimeException e) {
        reject(Refusals.fault(log, "preparing to receive " + uploadOf(), e));
        return;
      }
      response.request(1);
    }

    @Override
    public synchronized void onCompleted() {
      if (closed) {
        return;
      }
      if (header == null) {
        reject(WireError.MALFORMED_MESSAGE.exception("the upload ended before its header"));
        return;
      }
      if (decoder == null) {
        reject(WireError.MALFORMED_MESSAGE.exception(
            "the upload ended after its header, before any data"));
        return;
      }
      try {
        FitResult result;
        try {
          Parameters parameters = decoder.finish(true);
          result = reportChecks.fitResult(parameters, header);
        } catch (IllegalArgumentException e) {
          reject(WireError.RESULT_INVALID.exception(
              describeLearner(task.learnerId) + ": " + e.getMessage()));
          return;
        } catch (WireFormatException e) {
          reject(e.toStatusException());
          return;
        } catch (RuntimeException e) {
          reject(Refusals.fault(log, "decoding " + uploadOf(), e));
          return;
        }
        StatusRuntimeException refusal = fold(task, result);
        if (refusal != null) {
          reject(refusal);
          return;
        }
      } finally {
        releaseSlot();
      }
      closed = true;
      response.onNext(UploadReceipt.newBuilder()
          .setEnvelope(WireProtocol.envelope(task.round))
          .setTaskId(task.taskId)
          .build());
      response.onCompleted();
    }

    @Override
    public synchronized void onError(Throwable t) {
      if (closed) {
        return;
      }
      closed = true;
      long received = decoder == null ? 0 : decoder.receivedBytes();
      releaseSlot();
      if (task != null) {
        // Nothing of a broken upload was folded: only a complete, validated one ever is.
        log.warn("{}: the upload broke off after {} of {} bytes ({}); the partial update is "
                + "discarded", task, received,
            header == null ? 0 : header.getManifest().getTotalBytes(),
            Status.fromThrowable(t).getCode());
        task.fail(Kind.DISCONNECTED,
            "the upload broke off: " + Statuses.oneLine(Status.fromThrowable(t)));
      }
    }

    private void releaseSlot() {
      decoder = null;
      if (slot != null) {
        slot.close();
        slot = null;
      }
    }

    /** Names the upload for a fault's log line. */
    private String uploadOf() {
      return task != null ? "the upload of " + task : "an upload before its header was read";
    }

    /**
     * Refuses the upload. Its task fails too once this upload has claimed it: a fit task takes one
     * upload, so after a refused one the task can no longer succeed; how it failed follows from
     * the refusal's code.
     */
    private void reject(StatusRuntimeException refusal) {
      StatusRuntimeException sent = capped(refusal);
      String description = sent.getStatus().getDescription();
      WireError code = Refusals.codeOf(refusal);
      closed = true;
      releaseSlot();
      if (code != WireError.AGGREGATOR_FAULT) { // a fault is logged already, once
        log.warn("rejected {}: {}", task != null ? task.toString() : "an upload", description);
      }
      if (task != null) {
        task.fail(Refusals.kindOf(code), "update rejected: " + description);
      }
      response.onError(sent);
    }
  }
}
