package dev.flops.proto.codec;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Optional;

/**
 * Why a call of the flops protocol was refused or failed: the one table of refusal codes, each
 * with the gRPC status code it travels under and whether a new call may succeed.
 *
 * <p>The code travels in the trailers of the failed call, under {@link #TRAILER_KEY}, as the
 * constant's name in ASCII, next to the status's human description. A side decides by the code
 * (retry or not, how a task failed), never by the description, which is for people and may
 * change between releases. A peer that sends no code (a flops release before codes, or a proxy
 * that ends the call itself) is understood by its status code alone; a code this side does not
 * know (a newer peer's) reads as no code.
 *
 * <p>The constants below are the table (code, status code, retryable); federation.proto lists
 * them for peers in other languages, and {@code WireErrorTest} checks that every code keeps one
 * status and survives a trip through gRPC metadata.
 *
 * <p>Thread-safe: an enum.
 */
public enum WireError {
  /** A message of another protocol version. */
  PROTOCOL_VERSION(Status.Code.FAILED_PRECONDITION, false),
  /** A message for another round than its task's or the aggregator's current one. */
  STALE_ROUND(Status.Code.FAILED_PRECONDITION, false),
  /** A task id that is not pending: its task has ended, or it was never given. */
  UNKNOWN_TASK(Status.Code.NOT_FOUND, false),
  /** A transfer or result for a task that has already ended. */
  TASK_ENDED(Status.Code.FAILED_PRECONDITION, false),
  /** An upload for an evaluate task, or an evaluation for a fit task. */
  WRONG_TASK_KIND(Status.Code.FAILED_PRECONDITION, false),
  /** A control stream whose first message is not Hello. */
  OUT_OF_ORDER(Status.Code.FAILED_PRECONDITION, false),
  /** A message on a connection that was welcomed but not admitted (it pings too often). */
  NOT_ADMITTED(Status.Code.FAILED_PRECONDITION, false),
  /** A call for a task that belongs to another learner or connection (no or a wrong capability). */
  CAPABILITY(Status.Code.PERMISSION_DENIED, false),
  /** A token, certificate and learner name that name different learners. */
  IDENTITY(Status.Code.PERMISSION_DENIED, false),
  /** No learner token, or one the aggregator does not know. */
  UNAUTHENTICATED(Status.Code.UNAUTHENTICATED, false),
  /** A second upload for a fit task, which takes exactly one. */
  DUPLICATE_UPLOAD(Status.Code.ALREADY_EXISTS, false),
  /** Bytes or messages that break the protocol's format or sequence. */
  MALFORMED_MESSAGE(Status.Code.INVALID_ARGUMENT, false),
  /** An update whose tensors (names, dtypes, shapes) are not the global model's. */
  MANIFEST_MISMATCH(Status.Code.INVALID_ARGUMENT, false),
  /** Tensor data whose CRC32C is not the one its manifest declares. */
  CHECKSUM(Status.Code.INVALID_ARGUMENT, false),
  /** Tensor data holding NaN or an infinity. */
  NON_FINITE(Status.Code.INVALID_ARGUMENT, false),
  /** Reported numbers that flops refuses: an example count of 0, a metric that is no number. */
  RESULT_INVALID(Status.Code.INVALID_ARGUMENT, false),
  /** An update above the aggregator's size limits (maxTensorCount, maxUpdateBytes). */
  LIMIT_EXCEEDED(Status.Code.RESOURCE_EXHAUSTED, false),
  /** A call above the aggregator's call limits; they free up as other calls end. */
  BUSY(Status.Code.RESOURCE_EXHAUSTED, true),
  /** A call that sent no message within the aggregator's first-message timeout. */
  SILENT_CALL(Status.Code.DEADLINE_EXCEEDED, true),
  /** A control stream replaced by a newer connection of the same learner. */
  REPLACED(Status.Code.ABORTED, true),
  /** A transfer the aggregator found no direct memory for; its task has failed. */
  OUT_OF_MEMORY(Status.Code.RESOURCE_EXHAUSTED, false),
  /**
   * An unexpected exception in the aggregator (a bug in flops or in the application's strategy):
   * not the learner's fault. The aggregator's log has the stack trace.
   */
  AGGREGATOR_FAULT(Status.Code.INTERNAL, false);

  /**
   * The trailer that carries the code: {@code flops-error}, the constant's name in ASCII. Read it
   * with {@link #of(Throwable)} or {@link #of(Metadata)}, which also handle unknown names.
   */
  public static final Metadata.Key<String> TRAILER_KEY =
      Metadata.Key.of("flops-error", Metadata.ASCII_STRING_MARSHALLER);

  private final Status.Code statusCode;
  private final boolean retryable;

  WireError(Status.Code statusCode, boolean retryable) {
    this.statusCode = statusCode;
    this.retryable = retryable;
  }

  /**
   * Returns the gRPC status code this error travels under.
   *
   * @return the one status code of this error; never {@code OK}
   */
  public Status.Code statusCode() {
    return statusCode;
  }

  /**
   * Returns whether a new call of the same request may succeed: the refusal is about the moment
   * (bounds that free up, a connection replaced, a call that was silent), not the request.
   *
   * @return true for {@link #BUSY}, {@link #SILENT_CALL} and {@link #REPLACED}
   */
  public boolean retryable() {
    return retryable;
  }

  /**
   * Returns this error's status with a description.
   *
   * @param description what was wrong and what to do, for people
   * @return a status of {@link #statusCode()}; it does not carry the code: send it with {@link
   *     #trailers()}, or use {@link #exception(String)}
   */
  public Status status(String description) {
    return statusCode.toStatus().withDescription(description);
  }

  /**
   * Returns fresh trailers that carry this code; a server closes a call with them.
   *
   * @return new metadata holding only {@link #TRAILER_KEY}
   */
  public Metadata trailers() {
    Metadata trailers = new Metadata();
    trailers.put(TRAILER_KEY, name());
    return trailers;
  }

  /**
   * Returns the exception that refuses a call with this code: its status (with {@code
   * description}) and trailers that carry the code. gRPC's stubs send both when a service passes
   * it to {@code onError}.
   *
   * @param description what was wrong and what to do, for people
   * @return the exception, to throw or pass on
   */
  public StatusRuntimeException exception(String description) {
    return status(description).asRuntimeException(trailers());
  }

  /**
   * Returns the code a failed call carries, from the trailers of a {@link StatusRuntimeException}
   * or {@link io.grpc.StatusException} (or of its causes).
   *
   * @param failure how a call failed; may be null
   * @return the code, or empty if there is none (an older peer, a transport failure) or it is
   *     unknown here (a newer peer's)
   */
  public static Optional<WireError> of(Throwable failure) {
    return failure == null ? Optional.empty() : of(Status.trailersFromThrowable(failure));
  }

  /**
   * Returns the code that trailers carry.
   *
   * @param trailers a call's trailers; may be null
   * @return the code, or empty if there is none or it is unknown here
   */
  public static Optional<WireError> of(Metadata trailers) {
    String name = trailers == null ? null : trailers.get(TRAILER_KEY);
    if (name == null) {
      return Optional.empty();
    }
    for (WireError error : values()) {
      if (error.name().equals(name)) {
        return Optional.of(error);
      }
    }
    return Optional.empty();
  }
}
