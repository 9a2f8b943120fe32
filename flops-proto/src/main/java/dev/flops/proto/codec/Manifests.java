package dev.flops.proto.codec;

import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.proto.v1.Manifest;
import dev.flops.proto.v1.TensorSpec;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/** Builds manifests and checks them against the parameters they must describe. */
public final class Manifests {

  private Manifests() {}

  /**
   * Describes the structure of parameters (checksum and chunk size left unset).
   *
   * @param parameters the parameters
   * @return a manifest with one spec per tensor and the total byte size
   */
  public static Manifest describe(Parameters parameters) {
    Manifest.Builder manifest = Manifest.newBuilder();
    for (Tensor tensor : parameters) {
      TensorSpec.Builder spec = TensorSpec.newBuilder()
          .setName(tensor.name())
          .setDtype(toWire(tensor.dtype()));
      for (long dim : tensor.shape()) {
        spec.addShape(dim);
      }
      manifest.addTensors(spec);
    }
    return manifest.setTotalBytes(parameters.byteSize()).build();
  }

  /**
   * Checks that a manifest is self-consistent: known dtypes, non-negative dimensions, unique names,
   * a total matching the specs and a chunk size in range.
   *
   * @param manifest the manifest
   * @throws WireFormatException describing the first inconsistency
   */
  public static void checkWellFormed(Manifest manifest) {
    if (manifest.getChunkSize() < 1 || manifest.getChunkSize() > WireProtocol.MAX_CHUNK_BYTES) {
      throw new WireFormatException(String.format("manifest chunk_size %d is outside [1, %d]",
          Integer.toUnsignedLong(manifest.getChunkSize()), WireProtocol.MAX_CHUNK_BYTES));
    }
    Set<String> names = new HashSet<>();
    long total = 0;
    for (TensorSpec spec : manifest.getTensorsList()) {
      if (spec.getName().isBlank() || !names.add(spec.getName())) {
        throw new WireFormatException(
            "manifest tensor names must be unique and not blank: '" + spec.getName() + "'");
      }
      long elements = 1;
      for (long dim : spec.getShapeList()) {
        if (dim < 0) {
          throw new WireFormatException("manifest tensor '" + spec.getName()
              + "' has a negative dimension: " + spec.getShapeList());
        }
        try {
          elements = Math.multiplyExact(elements, dim);
        } catch (ArithmeticException e) {
          throw new WireFormatException("manifest tensor '" + spec.getName()
              + "' has more elements than fit a long: " + spec.getShapeList());
        }
      }
      try {
        total = Math.addExact(total, Math.multiplyExact(elements, fromWire(spec).byteSize()));
      } catch (ArithmeticException e) {
        throw new WireFormatException("manifest tensors need more bytes than fit a long");
      }
    }
    if (total != manifest.getTotalBytes()) {
      throw new WireFormatException(String.format(
          "manifest total_bytes %d does not match its tensors, which need %d bytes",
          manifest.getTotalBytes(), total));
    }
  }

  /**
   * Compares a manifest's tensors with the expected parameters: same names in the same order, same
   * dtypes and shapes.
   *
   * @param manifest the manifest received
   * @param expected the parameters it must match (e.g. the global model)
   * @return the first difference, or empty if they match
   */
  public static Optional<String> describeMismatch(Manifest manifest, Parameters expected) {
    if (manifest.getTensorsCount() != expected.size()) {
      return Optional.of(String.format("expected %d tensors %s but the update has %d %s",
          expected.size(), expected.names(), manifest.getTensorsCount(),
          manifest.getTensorsList().stream().map(TensorSpec::getName).toList()));
    }
    for (int i = 0; i < expected.size(); i++) {
      Tensor tensor = expected.tensors().get(i);
      TensorSpec spec = manifest.getTensors(i);
      long[] shape = spec.getShapeList().stream().mapToLong(Long::longValue).toArray();
      boolean knownType = spec.getDtype() != dev.flops.proto.v1.DType.DTYPE_UNSPECIFIED
          && spec.getDtype() != dev.flops.proto.v1.DType.UNRECOGNIZED;
      if (!tensor.name().equals(spec.getName()) || !knownType
          || fromWire(spec) != tensor.dtype() || !Arrays.equals(shape, tensor.shape())) {
        return Optional.of(String.format("tensor #%d: expected %s but the update has %s %s%s",
            i, tensor.spec(), spec.getName(), spec.getDtype(), Arrays.toString(shape)));
      }
    }
    return Optional.empty();
  }

  static dev.flops.proto.v1.DType toWire(DType dtype) {
    return switch (dtype) {
      case FLOAT32 -> dev.flops.proto.v1.DType.FLOAT32;
      case FLOAT64 -> dev.flops.proto.v1.DType.FLOAT64;
      case INT32 -> dev.flops.proto.v1.DType.INT32;
      case INT64 -> dev.flops.proto.v1.DType.INT64;
    };
  }

  static DType fromWire(TensorSpec spec) {
    return switch (spec.getDtype()) {
      case FLOAT32 -> DType.FLOAT32;
      case FLOAT64 -> DType.FLOAT64;
      case INT32 -> DType.INT32;
      case INT64 -> DType.INT64;
      case DTYPE_UNSPECIFIED, UNRECOGNIZED -> throw new WireFormatException(
          "manifest tensor '" + spec.getName() + "' has an unknown dtype " + spec.getDtypeValue());
    };
  }
}
