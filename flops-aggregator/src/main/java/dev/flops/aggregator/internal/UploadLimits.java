package dev.flops.aggregator.internal;

import dev.flops.api.Parameters;
import dev.flops.proto.codec.WireError;
import dev.flops.proto.v1.Manifest;
import io.grpc.StatusRuntimeException;
import java.util.Optional;

/**
 * The largest update manifest the aggregator considers: checked on an upload's header before
 * anything is allocated for the update, so a manifest that declares millions of tensors or
 * terabytes is refused at the cost of reading its header. The tensor count is checked first; the
 * declared byte total after the structure check (shapes larger than the model's are refused there,
 * naming the tensor).
 *
 * <p>An update can never legitimately be larger than the global model (it must have the same
 * structure), so the defaults are the global model's own tensor count and byte size; a smaller
 * update is then refused by the structure check.
 *
 * @param maxTensorCount the most tensors, or 0 for the global model's count
 * @param maxUpdateBytes the most data bytes, or 0 for the global model's size
 */
public record UploadLimits(int maxTensorCount, long maxUpdateBytes) {

  /** The defaults: nothing beyond the global model. */
  public static final UploadLimits GLOBAL_MODEL = new UploadLimits(0, 0);

  /**
   * Checks the limits.
   *
   * @throws IllegalArgumentException if a limit is negative
   */
  public UploadLimits {
    if (maxTensorCount < 0) {
      throw new IllegalArgumentException("maxTensorCount must be positive but was " + maxTensorCount);
    }
    if (maxUpdateBytes < 0) {
      throw new IllegalArgumentException("maxUpdateBytes must be positive but was " + maxUpdateBytes);
    }
  }

  /**
   * Checks that the limits admit the global model itself, so that a valid update can pass.
   *
   * @throws IllegalStateException naming the knob, its value and the model's figure otherwise
   */
  void checkAdmits(Parameters global) {
    if (maxTensorCount > 0 && maxTensorCount < global.size()) {
      throw new IllegalStateException(String.format("maxTensorCount %d is below the global model's "
          + "%d tensors: every update would be refused; raise it or leave it unset (the default "
          + "is the global model's count)", maxTensorCount, global.size()));
    }
    if (maxUpdateBytes > 0 && maxUpdateBytes < global.byteSize()) {
      throw new IllegalStateException(String.format("maxUpdateBytes %d is below the global model's "
          + "%d bytes: every update would be refused; raise it or leave it unset (the default is "
          + "the global model's size)", maxUpdateBytes, global.byteSize()));
    }
  }

  /**
   * Checks the manifest's tensor count, before anything else is read from it.
   *
   * @return a LIMIT_EXCEEDED refusal (RESOURCE_EXHAUSTED) naming the limit, or empty if the count
   *     is within
   */
  Optional<StatusRuntimeException> checkTensorCount(Manifest manifest, Parameters global) {
    long tensors = maxTensorCount > 0 ? maxTensorCount : global.size();
    if (manifest.getTensorsCount() <= tensors) {
      return Optional.empty();
    }
    return Optional.of(WireError.LIMIT_EXCEEDED.exception(String.format(
        "the update's manifest declares %d tensors but at most %d are accepted (%s); the "
            + "global model has %d", manifest.getTensorsCount(), tensors,
        maxTensorCount > 0 ? "maxTensorCount" : "maxTensorCount unset: the global model's count",
        global.size())));
  }

  /**
   * Checks the byte total the manifest declares. Run after the structure check, so the tensors
   * are the global model's and only the declared total can still be inflated.
   *
   * @return a LIMIT_EXCEEDED refusal (RESOURCE_EXHAUSTED) naming the limit, or empty if the total
   *     is within
   */
  Optional<StatusRuntimeException> checkBytes(Manifest manifest, Parameters global) {
    long bytes = maxUpdateBytes > 0 ? maxUpdateBytes : global.byteSize();
    // total_bytes is a uint64: compared unsigned, so 2^64 - 1 is not -1.
    if (Long.compareUnsigned(manifest.getTotalBytes(), bytes) <= 0) {
      return Optional.empty();
    }
    return Optional.of(WireError.LIMIT_EXCEEDED.exception(String.format(
        "the update's manifest declares %s bytes but at most %d are accepted (%s); the global "
            + "model has %d", Long.toUnsignedString(manifest.getTotalBytes()), bytes,
        maxUpdateBytes > 0 ? "maxUpdateBytes" : "maxUpdateBytes unset: the global model's size",
        global.byteSize())));
  }
}
