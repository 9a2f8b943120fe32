package dev.flops.api;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * A model's parameters: an ordered list of named tensors. The order is the order in which they
 * travel on the wire; names are unique.
 *
 * @param tensors the tensors in order; copied
 */
public record Parameters(List<Tensor> tensors) implements Iterable<Tensor> {

  /**
   * Validates the tensors.
   *
   * @throws NullPointerException if the list or an element is null
   * @throws IllegalArgumentException if two tensors share a name
   */
  public Parameters {
    tensors = List.copyOf(tensors);
    Set<String> names = new HashSet<>();
    for (Tensor tensor : tensors) {
      if (!names.add(tensor.name())) {
        throw new IllegalArgumentException("duplicate tensor name '" + tensor.name() + "'");
      }
    }
  }

  /**
   * Creates parameters from tensors in the given order.
   *
   * @param tensors the tensors
   * @return the parameters
   * @throws IllegalArgumentException if two tensors share a name
   */
  public static Parameters of(Tensor... tensors) {
    return new Parameters(Arrays.asList(tensors));
  }

  /**
   * Returns the tensor with the given name.
   *
   * @param name the tensor name
   * @return the tensor, or empty if there is none with that name
   */
  public Optional<Tensor> find(String name) {
    for (Tensor tensor : tensors) {
      if (tensor.name().equals(name)) {
        return Optional.of(tensor);
      }
    }
    return Optional.empty();
  }

  /**
   * Returns the tensor with the given name.
   *
   * @param name the tensor name
   * @return the tensor
   * @throws IllegalArgumentException if there is no tensor with that name; the message lists the
   *     names there are
   */
  public Tensor get(String name) {
    return find(name).orElseThrow(() -> new IllegalArgumentException(
        "no tensor named '" + name + "'; the parameters hold " + names()));
  }

  /**
   * Returns the tensor names in order.
   *
   * @return the names
   */
  public List<String> names() {
    List<String> names = new ArrayList<>(tensors.size());
    for (Tensor tensor : tensors) {
      names.add(tensor.name());
    }
    return Collections.unmodifiableList(names);
  }

  /**
   * Returns the number of tensors.
   *
   * @return the tensor count
   */
  public int size() {
    return tensors.size();
  }

  /**
   * Returns the total size of all tensors' data.
   *
   * @return the number of data bytes
   */
  public long byteSize() {
    long total = 0;
    for (Tensor tensor : tensors) {
      total += tensor.byteSize();
    }
    return total;
  }

  /**
   * Returns the total number of elements of all tensors.
   *
   * @return the element count
   */
  public long elementCount() {
    long total = 0;
    for (Tensor tensor : tensors) {
      total += tensor.elementCount();
    }
    return total;
  }

  /**
   * Compares the structure of these parameters with another set: the same tensor names in the same
   * order, each with the same dtype and shape.
   *
   * @param other the parameters to compare with
   * @return a description of the first difference, or empty if the structures are the same
   */
  public Optional<String> describeMismatch(Parameters other) {
    Objects.requireNonNull(other, "other");
    if (tensors.size() != other.tensors.size()) {
      return Optional.of(String.format("expected %d tensors %s but got %d %s",
          tensors.size(), names(), other.tensors.size(), other.names()));
    }
    for (int i = 0; i < tensors.size(); i++) {
      Tensor expected = tensors.get(i);
      Tensor actual = other.tensors.get(i);
      if (!expected.sameSpec(actual)) {
        return Optional.of(String.format(
            "tensor #%d: expected %s but got %s", i, expected.spec(), actual.spec()));
      }
    }
    return Optional.empty();
  }

  @Override
  public Iterator<Tensor> iterator() {
    return tensors.iterator();
  }

  @Override
  public String toString() {
    return "Parameters[" + tensors.size() + " tensors, " + elementCount() + " elements]";
  }
}
