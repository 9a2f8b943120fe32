package dev.flops.api.strategy;

import dev.flops.api.Parameters;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What a strategy needs to continue after a resume: string entries (a sampling seed, a counter) and
 * named tensors (a server momentum, Adam's first and second moments). The aggregator writes it into
 * every checkpoint, tensors streamed like the global parameters, and hands it back on resume.
 *
 * <p>An immutable value: the map is copied; the tensors are {@link dev.flops.api.Tensor} values,
 * whose data must not change after they are handed over (take them from
 * {@link MutableParameters#snapshot()}, which copies, never from a buffer the strategy keeps
 * updating). Tensors are not copied again here, so a state of several gigabytes costs no second
 * copy.
 *
 * @param values string entries; keys not blank, no null keys or values; copied
 * @param tensors named tensors of any dtype and shape, names unique; possibly empty
 */
public record StrategyState(Map<String, String> values, Parameters tensors) {

  private static final StrategyState EMPTY = new StrategyState(Map.of(), new Parameters(List.of()));

  /**
   * Validates and copies.
   *
   * @throws NullPointerException if the map, a key, a value or the tensors are null
   * @throws IllegalArgumentException if a key is blank
   */
  public StrategyState {
    Objects.requireNonNull(values, "values");
    Objects.requireNonNull(tensors, "tensors (use an empty Parameters for none)");
    for (Map.Entry<String, String> entry : values.entrySet()) {
      Objects.requireNonNull(entry.getKey(), "a strategy state key is null");
      Objects.requireNonNull(entry.getValue(),
          () -> "the strategy state entry '" + entry.getKey() + "' has a null value");
      if (entry.getKey().isBlank()) {
        throw new IllegalArgumentException("a strategy state key is blank; name every entry");
      }
    }
    values = Map.copyOf(values);
  }

  /**
   * Returns the state with no entries and no tensors: what a stateless strategy saves.
   *
   * @return the empty state
   */
  public static StrategyState empty() {
    return EMPTY;
  }

  /**
   * Returns a state of string entries only, as strategies that keep no tensors save it.
   *
   * @param values the entries; copied
   * @return the state, without tensors
   * @throws NullPointerException if the map, a key or a value is null
   * @throws IllegalArgumentException if a key is blank
   */
  public static StrategyState of(Map<String, String> values) {
    return new StrategyState(values, EMPTY.tensors);
  }

  /**
   * Returns this state's entries with the given tensors instead of its own.
   *
   * @param tensors the named tensors, whose data must not change afterwards
   * @return a new state
   * @throws NullPointerException if {@code tensors} is null
   */
  public StrategyState withTensors(Parameters tensors) {
    return new StrategyState(values, tensors);
  }

  /**
   * Tells whether the state has neither entries nor tensors.
   *
   * @return true if empty
   */
  public boolean isEmpty() {
    return values.isEmpty() && tensors.size() == 0;
  }

  @Override
  public String toString() {
    return "StrategyState[" + values.keySet() + ", " + tensors + "]";
  }
}
