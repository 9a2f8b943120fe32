package dev.flops.proto.codec;

import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.proto.v1.Manifest;
import dev.flops.proto.v1.TensorSpec;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
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
      throw new WireFormatException(WireError.MALFORMED_MESSAGE,
          String.format("manifest chunk_size %d is outside [1, %d]",
          Integer.toUnsignedLong(manifest.getChunkSize()), WireProtocol.MAX_CHUNK_BYTES));
    }
    Set<String> names = new HashSet<>();
    long total = 0;
    for (TensorSpec spec : manifest.getTensorsList()) {
      if (spec.getName().isBlank() || !names.add(spec.getName())) {
        throw new WireFormatException(WireError.MALFORMED_MESSAGE,
            "manifest tensor names must be unique and not blank: '"
            + quoted(spec.getName()) + "'");
      }
      long elements = 1;
      for (long dim : spec.getShapeList()) {
        if (dim < 0) {
          throw new WireFormatException(WireError.MALFORMED_MESSAGE,
              "manifest tensor '" + quoted(spec.getName())
              + "' has a negative dimension: " + spec.getShapeList());
        }
        try {
          elements = Math.multiplyExact(elements, dim);
        } catch (ArithmeticException e) {
          throw new WireFormatException(WireError.MALFORMED_MESSAGE,
              "manifest tensor '" + quoted(spec.getName())
              + "' has more elements than fit a long: " + spec.getShapeList());
        }
      }
      try {
        total = Math.addExact(total, Math.multiplyExact(elements, fromWire(spec).byteSize()));
      } catch (ArithmeticException e) {
        throw new WireFormatException(WireError.MALFORMED_MESSAGE,
            "manifest tensors need more bytes than fit a long");
      }
    }
    if (total != manifest.getTotalBytes()) {
      throw new WireFormatException(WireError.MALFORMED_MESSAGE, String.format(
          "manifest total_bytes %s does not match its tensors, which need %d bytes",
          Long.toUnsignedString(manifest.getTotalBytes()), total));
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
          expected.size(), listed(expected.names()), manifest.getTensorsCount(),
          listed(manifest.getTensorsList().stream().map(TensorSpec::getName).toList())));
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
            i, tensor.spec(), quoted(spec.getName()), spec.getDtype(), abbreviated(shape)));
      }
    }
    return Optional.empty();
  }

  /** The most names, characters of a name and dimensions quoted in a message. */
  private static final int QUOTED_NAMES = 10;
  private static final int QUOTED_NAME_CHARS = 64;
  private static final int QUOTED_DIMENSIONS = 8;

  /** Lists names for a message, at most {@value #QUOTED_NAMES} of them, each abbreviated. */
  private static String listed(List<String> names) {
    List<String> shown = names.stream().limit(QUOTED_NAMES).map(Manifests::quoted).toList();
    String list = String.join(", ", shown);
    return "[" + list + (names.size() > QUOTED_NAMES
        ? ", ... " + (names.size() - QUOTED_NAMES) + " more]" : "]");
  }

  /** A peer's name, abbreviated so that a message quoting it stays short. */
  private static String quoted(String name) {
    return name.length() <= QUOTED_NAME_CHARS ? name
        : name.substring(0, QUOTED_NAME_CHARS) + "...(" + name.length() + " chars)";
  }

  private static String abbreviated(long[] shape) {
    if (shape.length <= QUOTED_DIMENSIONS) {
      return Arrays.toString(shape);
    }
    String head = Arrays.toString(Arrays.copyOf(shape, QUOTED_DIMENSIONS));
    return head.substring(0, head.length() - 1) + ", ... " + shape.length + " dimensions]";
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
          WireError.MALFORMED_MESSAGE, "manifest tensor '"
          + quoted(spec.getName()) + "' has an unknown dtype " + spec.getDtypeValue());
    };
  }
}
