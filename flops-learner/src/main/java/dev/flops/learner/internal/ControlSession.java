package dev.flops.learner.internal;

import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.FitResult;
import dev.flops.api.InvalidResultException;
import dev.flops.api.LocalTrainer;
import dev.flops.api.ParameterMismatchException;
import dev.flops.api.Parameters;
import dev.flops.proto.codec.EncodedParameters;
import dev.flops.proto.codec.InlineParameters;
import dev.flops.proto.codec.Scalars;
import dev.flops.proto.codec.Statuses;
import dev.flops.proto.codec.WireError;
import dev.flops.proto.codec.WireFormatException;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.v1.AggregatorMessage;
import dev.flops.proto.v1.DownloadRequest;
import dev.flops.proto.v1.FederationGrpc;
import dev.flops.proto.v1.FederationOutcome;
import dev.flops.proto.v1.Hello;
import dev.flops.proto.v1.InlineUpdate;
import dev.flops.proto.v1.LearnerMessage;
import dev.flops.proto.v1.Shutdown;
import dev.flops.proto.v1.Task;
import dev.flops.proto.v1.TaskFailure;
import dev.flops.proto.v1.TaskFailureCause;
import dev.flops.proto.v1.TaskKind;
import dev.flops.proto.v1.UploadHeader;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.BlockingDeque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection of a learner to its aggregator: says hello, then runs the tasks it is sent, one
 * at a time on the calling thread, until the aggregator says shut down or the stream ends.
 */
public final class ControlSession {
  private static final Logger log = LoggerFactory.getLogger(ControlSession.class);

  /** How a session ended. */
  public enum End {
    /** The aggregator told the learner to shut down. */
    SHUTDOWN,
    /** The aggregator closed the stream without a shutdown message. */
    COMPLETED,
    /** The aggregator could not be reached, or the connection broke. */
    UNAVAILABLE,
    /** The aggregator refused the learner; retrying would not help. */
    REFUSED,
    /** The learner was stopped locally. */
    STOPPED,
    /**
     * The aggregator permits keepalive pings less often than this learner sends them and did not
     * admit this connection: reconnect with a keepalive of at least {@link
     * #permittedKeepAliveMillis()}.
     */
    ADAPT_KEEPALIVE
  }

  private record Event(AggregatorMessage message, Throwable error) {}

  private static final Event COMPLETED_EVENT = new Event(null, null);

  private final Channel channel;
  private final LocalTrainer trainer;
  private final String name;
  private final String key;
  private final BlockingDeque<Event> events = new LinkedBlockingDeque<>();
  /** Paces the retries of a refused transfer; reset for every transfer. */
  private final Backoff transferBackoff;
  /** Whether the current transfer attempt received data (a download's first message). */
  private boolean dataReceived;
  /** Whether the current transfer attempt sent data (an upload's header). */
  private boolean dataSent;
  private StreamObserver<LearnerMessage> out;
  private volatile String learnerId;
  /** The parameters the model holds as set from the aggregator, untrained since; null if unknown. */
  private String heldParametersId;
  private String endDetail = "";
  /** The status the session's stream ended with, or null if it did not end with an error. */
  private Status endStatus;
  private FederationOutcome outcome = FederationOutcome.FEDERATION_OUTCOME_UNSPECIFIED;
  private final long keepAliveMillis;
  private volatile long permittedKeepAliveMillis;
  /** The most update bytes the aggregator takes inline, as its Welcome said; 0: none. */
  private long inlineUpdateBytes;
  /**
   * The Shutdown the aggregator sent, as soon as it arrives (set by the gRPC callback, read by the
   * session thread while it runs a task): a task under way is then over, and its transfers are
   * neither started nor retried.
   */
  private volatile Shutdown shutdownReceived;
  /** Whether the session thread is inside a task; read by the Shutdown log line only. */
  private volatile boolean taskRunning;

  /**
   * Prepares a session.
   *
   * @param key the learner's key, the same on every connection of one learner, so that the
   *     aggregator gives it back the same id (Hello.learner_key)
   */
  public ControlSession(Channel channel, LocalTrainer trainer, String name, String key) {
    this(channel, trainer, name, key, 0);
  }

  /**
   * Prepares a session that tells the aggregator how often its channel pings.
   *
   * @param key the learner's key (Hello.learner_key)
   * @param keepAliveMillis the channel's keepalive time in milliseconds (Hello.keepalive_time_ms);
   *     0 if not said
   */
  public ControlSession(Channel channel, LocalTrainer trainer, String name, String key,
      long keepAliveMillis) {
    this(channel, trainer, name, key, keepAliveMillis,
        new Backoff(Duration.ofMillis(250), Duration.ofSeconds(10), new SplittableRandom()));
  }

  /**
   * Prepares a session whose refused transfers are retried after the delays of
   * {@code transferBackoff} (reset before every transfer).
   *
   * @param keepAliveMillis as above
   * @param transferBackoff paces the retries of a download or upload refused for now
   */
  public ControlSession(Channel channel, LocalTrainer trainer, String name, String key,
      long keepAliveMillis, Backoff transferBackoff) {
    this.channel = channel;
    this.trainer = trainer;
    this.name = name;
    this.key = key;
    this.keepAliveMillis = keepAliveMillis;
    this.transferBackoff = transferBackoff;
  }

  /**
   * Returns how the aggregator said the federation ended, once the session ended with {@link
   * End#SHUTDOWN}; {@code FEDERATION_OUTCOME_UNSPECIFIED} if it did not say.
   */
  public FederationOutcome outcome() {
    return outcome;
  }

  /**
   * Returns the shortest keepalive ping interval the aggregator permits, in milliseconds, as its
   * Welcome said; 0 before the Welcome or if it did not say.
   */
  public long permittedKeepAliveMillis() {
    return permittedKeepAliveMillis;
  }

  /** Returns the id the aggregator gave this learner, or null before it was welcomed. */
  public String learnerId() {
    return learnerId;
  }

  /** Returns whether the aggregator welcomed this session. */
  public boolean joined() {
    return learnerId != null;
  }

  /** Returns what the aggregator said when the session ended (shutdown reason or error). */
  public String endDetail() {
    return endDetail;
  }

  /**
   * Returns the error status the session's stream ended with, cause included, for a diagnosis
   * of why the aggregator is not reachable ({@link ReachabilityAdvice}).
   *
   * @return the status, or null if the stream did not end with an error
   */
  public Status endStatus() {
    return endStatus;
  }

  /** Runs the session until it ends; interrupting the thread stops it. */
  public End run() {
    out = FederationGrpc.newStub(channel).connect(new StreamObserver<>() {
      @Override
      public void onNext(AggregatorMessage message) {
        if (message.hasShutdown() && shutdownReceived == null) {
          shutdownReceived = message.getShutdown();
          // Said now: the session thread may be inside a long local fit, which is not interrupted.
          log.info("{}: the aggregator ended the federation ({}: {}); the learner stops {}", name,
              message.getShutdown().getOutcome(), message.getShutdown().getReason(),
              taskRunning ? "once its current local computation returns" : "now");
        }
        events.add(new Event(message, null));
      }

      @Override
      public void onError(Throwable t) {
        events.add(new Event(null, t));
      }

      @Override
      public void onCompleted() {
        events.add(COMPLETED_EVENT);
      }
    });
    out.onNext(LearnerMessage.newBuilder()
        .setEnvelope(WireProtocol.envelope(0))
        .setHello(Hello.newBuilder().setLearnerName(name).setLearnerKey(key)
            .setKeepaliveTimeMs(keepAliveMillis)
            // The channel takes messages of WireProtocol.MAX_MESSAGE_BYTES: one chunk's worth.
            .setMaxInlineBytes(InlineParameters.MAX_INLINE_BYTES))
        .build());
    try {
      while (true) {
        Event event = events.take();
        if (event == COMPLETED_EVENT) {
          endDetail = "the aggregator closed the connection";
          closeQuietly();
          return End.COMPLETED;
        }
        if (event.error != null) {
          return classify(event.error);
        }
        AggregatorMessage message = event.message;
        if (message.getEnvelope().getProtocolVersion() != WireProtocol.VERSION) {
          endDetail = String.format("the aggregator speaks protocol v%d but this learner speaks "
              + "v%d", message.getEnvelope().getProtocolVersion(), WireProtocol.VERSION);
          out.onError(Status.FAILED_PRECONDITION.withDescription(endDetail).asRuntimeException());
          return End.REFUSED;
        }
        switch (message.getBodyCase()) {
          case WELCOME -> {
            permittedKeepAliveMillis = message.getWelcome().getPermitKeepaliveTimeMs();
            if (keepAliveMillis > 0 && keepAliveMillis < permittedKeepAliveMillis) {
              // The aggregator did not admit this connection: gRPC would close it with
              // too_many_pings in the middle of a long fit.
              endDetail = String.format("the aggregator permits one keepalive ping per %d ms "
                  + "but this learner pings every %d ms", permittedKeepAliveMillis,
                  keepAliveMillis);
              closeQuietly();
              return End.ADAPT_KEEPALIVE;
            }
            learnerId = message.getWelcome().getLearnerId();
            inlineUpdateBytes = message.getWelcome().getMaxInlineUpdateBytes();
            log.info("joined the federation as {}", learnerId);
          }
          case TASK -> runTask(message.getEnvelope().getRound(), message.getTask());
          // The task has failed on the aggregator's side already; nothing to answer.
          case TASK_REFUSAL -> log.warn("{}: the aggregator refused the inline update of task {} "
              + "({}): {}", name, message.getTaskRefusal().getTaskId(),
              message.getTaskRefusal().getCode(), message.getTaskRefusal().getDescription());
          case SHUTDOWN -> {
            endDetail = message.getShutdown().getReason();
            outcome = message.getShutdown().getOutcome();
            closeQuietly();
            return End.SHUTDOWN;
          }
          default -> log.warn("ignored an unknown message from the aggregator: {}",
              message.getBodyCase());
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      out.onError(Status.CANCELLED.withDescription("learner stopped").asRuntimeException());
      endDetail = "stopped";
      return End.STOPPED;
    }
  }

  private End classify(Throwable error) {
    Status status = Status.fromThrowable(error);
    endStatus = status;
    // With the root cause on the same line: "UNAVAILABLE: io exception" alone hides whether the
    // connection was refused, reset or timed out.
    endDetail = Statuses.oneLine(status);
    SSLException tlsFailure = tlsFailure(status.getCause());
    if (tlsFailure != null && !joined()) {
      // A certificate the other side does not accept stays unaccepted: retrying cannot help.
      endDetail = "the TLS handshake failed: " + tlsAdvice(tlsFailure);
      return End.REFUSED;
    }
    WireError code = WireError.of(error).orElse(null);
    if (code != null) {
      // An aggregator fault is no reason to leave the federation: the learner reconnects, as
      // after a broken connection.
      return code.retryable() || code == WireError.AGGREGATOR_FAULT ? End.UNAVAILABLE
          : End.REFUSED;
    }
    // No code: the transport's own failure, or an aggregator from before codes.
    return switch (status.getCode()) {
      case UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, CANCELLED, RESOURCE_EXHAUSTED, UNKNOWN,
          INTERNAL -> End.UNAVAILABLE;
      default -> End.REFUSED;
    };
  }

  /** Says what a TLS failure most likely means and what to change. */
  private static String tlsAdvice(SSLException failure) {
    Throwable root = failure;
    while (root.getCause() != null) {
      root = root.getCause();
    }
    String what = String.valueOf(root.getMessage());
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof CertificateNameMismatchException mismatch) {
        return nameMismatchAdvice(mismatch);
      }
    }
    if (root instanceof GeneralSecurityException) {
      return "this learner does not trust the aggregator's certificate (" + what + "); give it "
          + "the root certificate that signed the aggregator's (trustedCertificates, "
          + "--trust-file)";
    }
    if (what.contains("CERTIFICATE_REQUIRED")) {
      return "the aggregator requires a learner certificate (mutual TLS) and this learner "
          + "presents none; give it one signed by the CA the aggregator trusts "
          + "(clientCertificate, --tls-cert and --tls-key)";
    }
    return "the aggregator refused the handshake (" + what + "); if it requires learner "
        + "certificates, check that this learner's is signed by the CA the aggregator trusts "
        + "(--client-ca there) and has not expired";
  }

  private static String nameMismatchAdvice(CertificateNameMismatchException mismatch) {
    String host = mismatch.host();
    boolean address = host.matches("[0-9.]+") || host.contains(":");
    return mismatch.getMessage() + "; dial one of those names (--aggregator NAME:PORT, "
        + "Learner.builder().aggregator(...)), or reissue the aggregator's certificate with "
        + (address ? "IP:" : "DNS:") + host + " among its subject alternative names "
        + "(bin/make-test-certs --host " + host + ")";
  }

  /**
   * The certificate failure behind a broken call, if any: this side rejected the other's
   * certificate, or the other side sent a TLS alert. A connection that merely closed during the
   * handshake (say, an aggregator restarting) or timed out is not one: retrying may help there.
   */
  private static SSLException tlsFailure(Throwable cause) {
    SSLException found = null;
    Throwable root = null;
    for (Throwable t = cause; t != null; t = t.getCause()) {
      if (t instanceof SSLException ssl && found == null) {
        found = ssl;
      }
      root = t;
    }
    if (found == null) {
      return null;
    }
    boolean rejectedCertificate = root instanceof GeneralSecurityException;
    boolean alert = String.valueOf(root.getMessage()).contains("ALERT");
    return rejectedCertificate || alert ? found : null;
  }

  private void runTask(long round, Task task) throws InterruptedException {
    String what = name + ": " + task.getKind() + " task " + task.getTaskId() + " (round " + round
        + ")";
    log.info("{} started", what);
    long start = System.nanoTime();
    taskRunning = true;
    try {
      String parametersId = task.getParametersId();
      if (parametersId.isEmpty() || !parametersId.equals(heldParametersId)) {
        heldParametersId = null;
        // No local keeps the received copy: once the model has taken it, it can be collected,
        // so the learner holds at most three copies of the model (received, working, sending).
        abandonIfEnded("download");
        setParameters(task.hasParameters()
            ? retrying(what, "inline download", () -> InlineParameters.decode(
                task.getParameters().getManifest(), task.getParameters().getData(),
                (index, bytes) -> ByteBuffer.allocateDirect(bytes)))
            : retrying(what, "download", () -> download(round, task)));
        heldParametersId = parametersId.isEmpty() ? null : parametersId;
      } else {
        log.debug("{}: the model already holds parameters {}; no download", what, parametersId);
      }
      Config config = Scalars.toConfig(task.getConfigMap());
      long computeStart = System.nanoTime();
      String outcome;
      if (task.getKind() == TaskKind.FIT) {
        heldParametersId = null; // training changes the model's parameters
        FitResult result = trainer.fit(config);
        long fitted = System.nanoTime();
        abandonIfEnded("upload");
        upload(what, round, task, result);
        outcome = TaskReport.fit(result, computeStart - start, fitted - computeStart,
            System.nanoTime() - fitted);
      } else if (task.getKind() == TaskKind.EVALUATE) {
        EvaluateResult result = trainer.evaluate(config);
        outcome = TaskReport.evaluate(result);
        out.onNext(LearnerMessage.newBuilder()
            .setEnvelope(WireProtocol.envelope(round))
            .setEvaluateResult(dev.flops.proto.v1.EvaluateResult.newBuilder()
                .setTaskId(task.getTaskId())
                .setLoss(result.loss())
                .setNumExamples(result.numExamples())
                .putAllMetrics(Scalars.metricsToWire(result.metrics())))
            .build());
      } else {
        throw new IllegalArgumentException("unknown task kind " + task.getKind());
      }
      log.info("{} done in {}: {}", what, TaskReport.seconds(System.nanoTime() - start), outcome);
    } catch (TransferFailed e) {
      // Said on the control stream (if it still works) so that the task fails at once rather
      // than at the round timeout; a refusal the aggregator already counted is ignored there.
      heldParametersId = null;
      log.warn("{}: {}", what, e.getMessage());
      reportFailure(round, task.getTaskId(), e.getMessage(), e.cause);
    } catch (AbandonedTask e) {
      heldParametersId = null;
      log.info("{}: gave up the task: {}", what, e.getMessage());
    } catch (InterruptedException e) {
      throw e;
    } catch (ModelMismatch e) {
      heldParametersId = null;
      log.error("{}: {}", what, e.getMessage());
      reportFailure(round, task.getTaskId(), e.getMessage(), TaskFailureCause.MODEL_MISMATCH);
    } catch (ParameterMismatchException e) {
      // The trainer set parameters of its own into the model (flops' adapters say so by type).
      heldParametersId = null;
      String message = mismatch(e);
      log.error("{}: {}", what, message);
      reportFailure(round, task.getTaskId(), message, TaskFailureCause.MODEL_MISMATCH);
    } catch (InvalidResultException e) {
      // flops' own check of the numbers the trainer's result reports (FitResult, EvaluateResult,
      // ReportedNumbers): the trainer's numbers, not a fault of its code, and the same next time.
      heldParametersId = null;
      log.error("{}: the result was refused: {}", what, e.getMessage());
      reportFailure(round, task.getTaskId(), "the learner's result was refused: " + e.getMessage(),
          TaskFailureCause.RESULT_INVALID);
    } catch (Exception e) {
      heldParametersId = null;
      log.warn("{} failed: {}", what, e.toString(), e);
      out.onNext(LearnerMessage.newBuilder()
          .setEnvelope(WireProtocol.envelope(round))
          .setTaskFailure(TaskFailure.newBuilder()
              .setTaskId(task.getTaskId())
              .setMessage(String.valueOf(e))
              .setCause(TaskFailureCause.LEARNER_CODE))
          .build());
    } finally {
      taskRunning = false;
    }
  }

  /**
   * Sets the global parameters into the model. Whatever {@code setParameters} refuses with an
   * {@link IllegalArgumentException} (its contract for parameters that do not fit; a
   * {@link ParameterMismatchException} from flops' own models) means that this
   * learner's model is not the aggregator's: classified here, where it is known which call
   * failed, not from the message.
   */
  private void setParameters(Parameters global) throws ModelMismatch {
    try {
      trainer.model().setParameters(global);
    } catch (IllegalArgumentException e) {
      throw new ModelMismatch(mismatch(e));
    }
  }

  private static String mismatch(IllegalArgumentException e) {
    // The fix first: messages quoting this may shorten the detail that follows.
    return "the learner's model does not have the aggregator's architecture: give both the same "
        + "model (the same --model, or the same network configuration); its setParameters "
        + "refused the aggregator's parameters: " + e.getMessage();
  }

  /** The global parameters do not fit the learner's model. */
  private static final class ModelMismatch extends Exception {
    ModelMismatch(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * Statuses of a broken connection or call, as opposed to the aggregator refusing a transfer;
   * only for statuses without a {@link WireError} code (a refusal with one is never a broken
   * transport).
   */
  private static boolean isTransportFailure(Status status) {
    return switch (status.getCode()) {
      case CANCELLED, UNAVAILABLE, DEADLINE_EXCEEDED, UNKNOWN, INTERNAL -> true;
      default -> false;
    };
  }

  /**
   * Refusals that may pass: the aggregator's bounds on calls ({@code RESOURCE_EXHAUSTED} before
   * any data came back; the bound refuses an upload whose header may already be on its way) free
   * up as other transfers end, and a transfer call that could not start ({@code UNAVAILABLE}
   * before any data moved) may start on the next try. Anything else is the aggregator's judgement
   * of this task, or a transfer that broke off once under way (the aggregator may have counted an
   * upload's header already), which a retry cannot change; an upload the aggregator did take up
   * is answered {@code ALREADY_EXISTS} on a retry, which ends the retries. Only for statuses
   * without a code (an aggregator from before codes, the transport's own failures): a code says
   * itself whether a retry may pass ({@link WireError#retryable()}).
   */
  private boolean isTransient(Status status) {
    return switch (status.getCode()) {
      case RESOURCE_EXHAUSTED -> !dataReceived;
      case UNAVAILABLE -> !dataReceived && !dataSent;
      default -> false;
    };
  }

  /** One attempt at a transfer. */
  private interface Attempt<T> {
    T run() throws InterruptedException;
  }

  /** A transfer that failed for good; the message says how, for the aggregator and the log. */
  private static final class TransferFailed extends Exception {
    final TaskFailureCause cause;

    TransferFailed(String message, TaskFailureCause cause) {
      super(message, null, false, false);
      this.cause = cause;
    }
  }

  /** The aggregator moved on while a transfer waited to be retried: the task is over. */
  private static final class AbandonedTask extends Exception {
    AbandonedTask(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * Runs a transfer, retrying transient refusals with backoff and jitter for as long as the task
   * can still succeed: until the control stream brings news (a next task, a shutdown, its end),
   * which means the aggregator ended this task. Retrying rather than giving up keeps a learner
   * that was refused only because others held the aggregator's call slots from losing its task
   * to the round timeout; the jitter keeps refused learners from coming back in lockstep.
   *
   * @throws TransferFailed on a refusal a retry cannot change, or on a transfer that broke off
   * @throws AbandonedTask if the aggregator moved on while the transfer waited
   */
  private <T> T retrying(String what, String transfer, Attempt<T> attempt)
      throws InterruptedException, TransferFailed, AbandonedTask {
    transferBackoff.reset();
    long start = System.nanoTime();
    int refusals = 0;
    while (true) {
      Status status;
      WireError code;
      dataReceived = false;
      dataSent = false;
      try {
        return attempt.run();
      } catch (StatusRuntimeException e) {
        status = e.getStatus();
        code = WireError.of(e).orElse(null);
        log.debug("{}: the {} call failed", what, transfer, e); // the stack trace, at DEBUG only
      } catch (WireFormatException e) {
        // What the aggregator sent broke the protocol (checked here, after the call): the
        // transfer is broken, not the learner's code.
        throw new TransferFailed("the " + transfer + " broke the protocol (" + e.code() + "): "
            + e.getMessage(), TaskFailureCause.TRANSFER_BROKEN);
      } catch (OutOfMemoryError e) {
        throw new TransferFailed(String.format("the learner ran out of memory for the %s (%s); "
            + "raise its -XX:MaxDirectMemorySize (or -Xmx) to hold about three copies of the "
            + "model", transfer, e.getMessage()), TaskFailureCause.LEARNER_CODE);
      }
      refusals++;
      String after = refusals == 1 ? "" : String.format(" (refused %d times over %d ms)",
          refusals, (System.nanoTime() - start) / 1_000_000);
      boolean mayPass = code != null ? code.retryable() : isTransient(status);
      if (code == null && isTransportFailure(status) && !mayPass) {
        throw new TransferFailed("the transfer broke off: " + describe(status) + after,
            TaskFailureCause.TRANSFER_BROKEN);
      }
      if (!mayPass) {
        throw new TransferFailed("the aggregator refused the " + transfer + ": "
            + describe(status) + after, TaskFailureCause.TRANSFER_REFUSED);
      }
      Duration delay = transferBackoff.next();
      if (refusals == 1) {
        log.info("{}: the aggregator refused the {} for now ({}); retrying with backoff",
            what, transfer, describe(status));
      }
      log.debug("{}: {} refused {} times; next try in {} ms", what, transfer, refusals,
          delay.toMillis());
      Event news = events.poll(delay.toMillis(), TimeUnit.MILLISECONDS);
      if (news != null) {
        events.addFirst(news); // the session loop handles it once this task has returned
        abandonIfEnded(transfer);
        String moved = news.message != null ? "the aggregator moved on"
            : "the connection to the aggregator ended";
        throw new AbandonedTask(String.format("%s while the %s waited to be retried; last "
            + "refusal: %s%s", moved, transfer, describe(status), after));
      }
    }
  }

  /**
   * Ends the task under way if the aggregator has ended the federation meanwhile: its transfer
   * could only be refused, and retrying it would log refusals of an aggregator that is gone.
   */
  private void abandonIfEnded(String transfer) throws AbandonedTask {
    Shutdown shutdown = shutdownReceived;
    if (shutdown != null) {
      throw new AbandonedTask(String.format("the aggregator ended the federation while this task "
          + "ran (%s: %s); the %s is not attempted", shutdown.getOutcome(), shutdown.getReason(),
          transfer));
    }
  }

  /** One line: Status.toString() would print the cause's whole stack trace (Netty's). */
  private static String describe(Status status) {
    return Statuses.oneLine(status);
  }

  private void reportFailure(long round, String taskId, String message,
      TaskFailureCause cause) {
    try {
      out.onNext(LearnerMessage.newBuilder()
          .setEnvelope(WireProtocol.envelope(round))
          .setTaskFailure(TaskFailure.newBuilder().setTaskId(taskId).setMessage(message)
              .setCause(cause))
          .build());
    } catch (RuntimeException e) {
      log.debug("could not report the failure of task {}: {}", taskId, e.toString());
    }
  }

  private Parameters download(long round, Task task) throws InterruptedException {
    // A download abandoned half-way (a malformed message, no memory left) is cancelled, so that
    // it does not keep holding one of the aggregator's call and download slots.
    Context.CancellableContext call = Context.current().withCancellation();
    Context previous = call.attach();
    try {
      return receive(round, task);
    } finally {
      call.detach(previous);
      call.cancel(null);
    }
  }

  private Parameters receive(long round, Task task) throws InterruptedException {
    // Decoded in the call's callbacks, straight from the transport's buffers (DownloadReceiver).
    return DownloadReceiver.receive(channel, DownloadRequest.newBuilder()
            .setEnvelope(WireProtocol.envelope(round))
            .setLearnerId(learnerId)
            .setTaskId(task.getTaskId())
            .setCapability(task.getCapability())
            .build(),
        received -> dataReceived = received);
  }

  private void upload(String what, long round, Task task, FitResult result)
      throws InterruptedException, TransferFailed, AbandonedTask {
    EncodedParameters encoded = EncodedParameters.encode(result.parameters());
    UploadHeader header = UploadHeader.newBuilder()
        .setLearnerId(learnerId)
        .setTaskId(task.getTaskId())
        .setCapability(task.getCapability())
        .setNumExamples(result.numExamples())
        .putAllMetrics(Scalars.metricsToWire(result.metrics()))
        .setManifest(encoded.manifest())
        .build();
    if (encoded.manifest().getTotalBytes() <= inlineUpdateBytes
        && header.getSerializedSize() + encoded.manifest().getTotalBytes() + 64
            <= WireProtocol.MAX_MESSAGE_BYTES) { // huge metrics leave the data to the upload
      // One message on the open stream instead of a call; a refusal comes back as TaskRefusal.
      out.onNext(LearnerMessage.newBuilder()
          .setEnvelope(WireProtocol.envelope(round))
          .setInlineUpdate(InlineUpdate.newBuilder()
              .setHeader(header)
              .setData(InlineParameters.data(encoded)))
          .build());
      return;
    }
    retrying(what, "upload", () -> send(round, header, encoded));
  }

  private Void send(long round, UploadHeader header, EncodedParameters encoded)
      throws InterruptedException {
    UploadSender sender = new UploadSender(round, header, encoded);
    ClientCalls.asyncClientStreamingCall(
        channel.newCall(UploadSender.METHOD, CallOptions.DEFAULT), sender);
    try {
      sender.result().get();
    } catch (ExecutionException e) {
      dataSent = sender.sentAny();
      Throwable cause = e.getCause();
      throw cause instanceof StatusRuntimeException s ? s
          : Status.fromThrowable(cause).asRuntimeException();
    }
    return null;
  }

  private void closeQuietly() {
    try {
      out.onCompleted();
    } catch (RuntimeException ignored) {
      // The stream is already closed.
    }
  }
}
