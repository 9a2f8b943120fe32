package dev.flops.aggregator.internal;

import dev.flops.api.LearnerFailure.Kind;
import dev.flops.proto.codec.WireError;
import io.grpc.StatusRuntimeException;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;

/**
 * How the aggregator's service turns what it refuses, and what fails in it, into answers: the
 * {@link WireError} code decides a refused task's failure kind, and an unexpected exception
 * becomes one answer on every path.
 *
 * <p>An unexpected exception (a bug in flops, or a strategy's code throwing while it folds an
 * update) is the aggregator's fault, never the learner's: it is logged once at ERROR with its
 * stack trace and a short fault id, and the learner gets {@code INTERNAL} with code {@link
 * WireError#AGGREGATOR_FAULT} and a description that names the id but not the exception's text
 * (which would read as a complaint about what the learner sent). Stateless; thread-safe.
 */
final class Refusals {
  private Refusals() {}

  /**
   * Returns how a task fails when the aggregator refuses its transfer or report with {@code code}:
   * refusals of what the learner sent are deterministic ({@link Kind#REJECTED}); the aggregator's
   * own trouble and refusals about the moment are not classified ({@link Kind#OTHER}).
   *
   * @param code the refusal's code
   * @return the failure kind
   */
  static Kind kindOf(WireError code) {
    return switch (code) {
      case PROTOCOL_VERSION, STALE_ROUND, UNKNOWN_TASK, TASK_ENDED, WRONG_TASK_KIND, OUT_OF_ORDER,
          NOT_ADMITTED, CAPABILITY, IDENTITY, UNAUTHENTICATED, DUPLICATE_UPLOAD, MALFORMED_MESSAGE,
          MANIFEST_MISMATCH, CHECKSUM, NON_FINITE, RESULT_INVALID, LIMIT_EXCEEDED -> Kind.REJECTED;
      case BUSY, SILENT_CALL, REPLACED, OUT_OF_MEMORY, AGGREGATOR_FAULT -> Kind.OTHER;
    };
  }

  /**
   * Returns the code of a refusal the service threw. Every refusal of the service carries one; an
   * exception without (thrown by a library the service calls) is the aggregator's own trouble.
   *
   * @param refusal a refusal thrown while handling a call
   * @return its code, or {@link WireError#AGGREGATOR_FAULT} if it carries none
   */
  static WireError codeOf(StatusRuntimeException refusal) {
    return WireError.of(refusal).orElse(WireError.AGGREGATOR_FAULT);
  }

  /**
   * Logs an unexpected exception once, at ERROR with its stack trace, and returns the answer for
   * the learner: {@code INTERNAL}, code {@link WireError#AGGREGATOR_FAULT}, a description that
   * names the fault id under which the log has the details.
   *
   * @param log the logger of the class that caught it
   * @param activity what the aggregator was doing, e.g. "handling the upload of task r1-fit-3"
   * @param fault the exception
   * @return the refusal to send; log nothing more about it
   */
  static StatusRuntimeException fault(Logger log, String activity, Throwable fault) {
    String id = faultId();
    log.error("aggregator fault {} while {}; the learner is told it is not its fault", id, activity,
        fault);
    return WireError.AGGREGATOR_FAULT.exception(String.format("the aggregator failed while %s "
        + "(fault %s, a bug on the aggregator's side, not in what this learner sent; the "
        + "aggregator's log has the details under that id)", activity, id));
  }

  private static String faultId() {
    byte[] bytes = new byte[4];
    ThreadLocalRandom.current().nextBytes(bytes);
    return HexFormat.of().formatHex(bytes);
  }
}
