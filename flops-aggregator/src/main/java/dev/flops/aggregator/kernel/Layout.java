package dev.flops.aggregator.kernel;

import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The structure of a {@link KernelBuffer}: tensor names and shapes, all float32. Kept apart from
 * the template so that a buffer does not hold on to the template's data.
 */
final class Layout {
  private final String[] names;
  private final long[][] shapes;
  private final int[] sizes;
  private final long elements;

  private Layout(String[] names, long[][] shapes, int[] sizes, long elements) {
    this.names = names;
    this.shapes = shapes;
    this.sizes = sizes;
    this.elements = elements;
  }

  /**
   * Takes the structure of the template.
   *
   * @throws IllegalArgumentException if a tensor is not FLOAT32
   */
  static Layout of(Parameters template) {
    Sums.checkTemplate(template);
    List<Tensor> tensors = template.tensors();
    String[] names = new String[tensors.size()];
    long[][] shapes = new long[tensors.size()][];
    int[] sizes = new int[tensors.size()];
    long elements = 0;
    for (int t = 0; t < sizes.length; t++) {
      Tensor tensor = tensors.get(t);
      names[t] = tensor.name();
      shapes[t] = tensor.shape();
      sizes[t] = Math.toIntExact(tensor.elementCount());
      elements += sizes[t];
    }
    return new Layout(names, shapes, sizes, elements);
  }

  int tensors() {
    return sizes.length;
  }

  /** Elements of tensor {@code t}. */
  int size(int t) {
    return sizes[t];
  }

  long elements() {
    return elements;
  }

  Tensor tensor(int t, ByteBuffer data) {
    return new Tensor(names[t], DType.FLOAT32, shapes[t], data);
  }

  private String spec(int t) {
    return names[t] + " " + DType.FLOAT32 + Arrays.toString(shapes[t]);
  }

  Optional<String> describeMismatch(Parameters other) {
    if (other.size() != sizes.length) {
      return Optional.of(String.format("expected %d tensors %s but got %d %s",
          sizes.length, Arrays.toString(names), other.size(), other.names()));
    }
    for (int t = 0; t < sizes.length; t++) {
      Tensor actual = other.tensors().get(t);
      if (!actual.name().equals(names[t]) || actual.dtype() != DType.FLOAT32
          || !Arrays.equals(actual.shape(), shapes[t])) {
        return Optional.of(
            String.format("tensor #%d: expected %s but got %s", t, spec(t), actual.spec()));
      }
    }
    return Optional.empty();
  }

  Optional<String> describeMismatch(Layout other) {
    if (other == this) {
      return Optional.empty();
    }
    if (other.sizes.length != sizes.length) {
      return Optional.of(String.format("expected %d tensors %s but got %d %s", sizes.length,
          Arrays.toString(names), other.sizes.length, Arrays.toString(other.names)));
    }
    for (int t = 0; t < sizes.length; t++) {
      if (!names[t].equals(other.names[t]) || !Arrays.equals(shapes[t], other.shapes[t])) {
        return Optional.of(String.format(
            "tensor #%d: expected %s but got %s", t, spec(t), other.spec(t)));
      }
    }
    return Optional.empty();
  }

  @Override
  public String toString() {
    return sizes.length + " tensors, " + elements + " elements";
  }
}
