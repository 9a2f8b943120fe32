package dev.flops.api.strategy;

import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the server-optimizer variants of FedAvg (FedAvgM, FedAdagrad, FedAdam, FedYogi) share: the
 * model-sized tensors they carry from round to round ("slots": a velocity, or the moments
 * {@code m} and {@code v}), the server update that opens them on the kernel and hands them to the
 * variant's {@link #step}, and their checkpoint format. A variant adds its step and its knobs.
 *
 * <p>Between rounds the slots are immutable {@link Parameters} snapshots (off the Java heap with
 * the native kernel), so that {@link #saveState()} can hand them to the checkpoint without a copy
 * and a strategy needs no close hook. A round's update copies them into kernel buffers, steps,
 * and snapshots them again: while it runs, the global model, the pseudo-gradient and every slot
 * exist twice.
 *
 * <p>Checkpoint format: FedAvg's sampling entries, the entry {@value #STRATEGY_ENTRY} naming the
 * strategy, and slot {@code s}'s tensor {@code t} saved as {@code s/t}; before the first update
 * there are no tensors.
 */
abstract class ServerOptimizer extends FedAvg {

  /** The state entry naming the strategy that wrote the slots. */
  static final String STRATEGY_ENTRY = "server_optimizer";

  private final String strategy;
  private final List<String> slots;
  private final float[] initialValues;
  /** One snapshot per slot, as of the last update; null before the first. */
  private List<Parameters> values;

  /**
   * Creates the variant.
   *
   * @param base FedAvg's settings
   * @param strategy the public strategy's name, as saved and checked on restore
   * @param slots the slots' names, in the order {@link #step} receives them
   * @param initialValues each slot's value in every element before the first update
   */
  ServerOptimizer(FedAvg.Builder base, String strategy, List<String> slots,
      float... initialValues) {
    super(base);
    if (slots.size() != initialValues.length) {
      throw new IllegalArgumentException("one initial value per slot");
    }
    this.strategy = strategy;
    this.slots = List.copyOf(slots);
    this.initialValues = initialValues.clone();
  }

  /**
   * Applies one step of the optimizer, on buffers of one kernel with the global structure.
   *
   * @param x the global model; updated
   * @param delta the round's pseudo-gradient {@code mean - x}; not changed
   * @param slots the slots, in the constructor's order; updated
   */
  abstract void step(MutableParameters x, MutableParameters delta, List<MutableParameters> slots);

  /**
   * Runs one step: the new global model and, kept here, the new slots.
   *
   * @throws IllegalArgumentException if the slots, restored or from an earlier training, do not
   *     fit the global model
   */
  @Override
  protected final Parameters serverUpdate(
      int round, Parameters global, Parameters average, AveragingKernel kernel) {
    if (values != null) {
      global.describeMismatch(values.get(0)).ifPresent(mismatch -> {
        throw new IllegalArgumentException(strategy + "'s " + slots + ", from an earlier round "
            + "or a checkpoint, do not fit the global model (" + mismatch + "); they belong to "
            + "another model: resume with the model the checkpoint was written for, or train "
            + "this model with a new strategy instance in a new checkpoint directory");
      });
    }
    TensorOps ops = kernel.ops();
    List<MutableParameters> open = new ArrayList<>(slots.size() + 2);
    try {
      MutableParameters x = ops.copyOf(global);
      open.add(x);
      MutableParameters delta = AggregationFunctions.pseudoGradient(average, x);
      open.add(delta);
      for (int i = 0; i < slots.size(); i++) {
        open.add(values != null ? ops.copyOf(values.get(i))
            : initialValues[i] == 0 ? ops.zeros(global)
            : ops.copyOf(filled(global, initialValues[i])));
      }
      List<MutableParameters> slotBuffers = open.subList(2, open.size());
      step(x, delta, slotBuffers);
      List<Parameters> next = new ArrayList<>(slots.size());
      for (MutableParameters slot : slotBuffers) {
        next.add(slot.snapshot());
      }
      Parameters updated = x.snapshot();
      values = List.copyOf(next);
      return updated;
    } finally {
      open.forEach(MutableParameters::close);
    }
  }

  /**
   * Returns FedAvg's sampling state, the entry {@value #STRATEGY_ENTRY} naming the strategy and
   * the slots as tensors {@code <slot>/<tensor>} (none before the first update).
   */
  @Override
  public final StrategyState saveState() {
    StrategyState base = super.saveState();
    Map<String, String> entries = new LinkedHashMap<>(base.values());
    entries.put(STRATEGY_ENTRY, strategy);
    List<Tensor> tensors = new ArrayList<>(base.tensors().tensors());
    if (values != null) {
      for (int i = 0; i < slots.size(); i++) {
        for (Tensor tensor : values.get(i)) {
          tensors.add(new Tensor(slots.get(i) + "/" + tensor.name(), tensor.dtype(),
              tensor.shape(), tensor.data()));
        }
      }
    }
    return new StrategyState(entries, new Parameters(tensors));
  }

  /**
   * Restores what {@link #saveState()} saved; a bad state changes nothing.
   *
   * @throws IllegalArgumentException if another strategy wrote the state, or a slot is missing,
   *     extra or shaped unlike the others
   */
  @Override
  public final void restoreState(StrategyState state) {
    List<Parameters> parsed = parse(state);
    super.restoreState(state);
    values = parsed;
  }

  /**
   * Reads the slots from a saved state, without changing this strategy.
   *
   * @param state a state that {@link #saveState()} wrote
   * @return one snapshot per slot, or null if the state holds none (no update had run yet)
   * @throws IllegalArgumentException if another strategy wrote the state, or a slot is missing,
   *     extra or shaped unlike the others
   */
  private List<Parameters> parse(StrategyState state) {
    String writer = state.values().get(STRATEGY_ENTRY);
    if (!strategy.equals(writer)) {
      throw new IllegalArgumentException("the checkpoint's strategy state was written by "
          + (writer == null ? "a strategy without server-optimizer state" : writer)
          + ", not " + strategy + "; resume with the strategy that wrote it, or start over in a "
          + "new checkpoint directory");
    }
    if (state.tensors().size() == 0) {
      return null;
    }
    Map<String, List<Tensor>> bySlot = new LinkedHashMap<>();
    slots.forEach(slot -> bySlot.put(slot, new ArrayList<>()));
    for (Tensor tensor : state.tensors()) {
      int slash = tensor.name().indexOf('/');
      List<Tensor> slot = slash < 0 ? null : bySlot.get(tensor.name().substring(0, slash));
      if (slot == null) {
        throw new IllegalArgumentException(strategy + " state tensor '" + tensor.name()
            + "' belongs to none of its slots " + slots + " (names are slot/tensor)");
      }
      slot.add(new Tensor(tensor.name().substring(slash + 1), tensor.dtype(), tensor.shape(),
          tensor.data()));
    }
    List<Parameters> parsed = new ArrayList<>(slots.size());
    for (Map.Entry<String, List<Tensor>> slot : bySlot.entrySet()) {
      Parameters values = new Parameters(slot.getValue());
      if (!parsed.isEmpty()) {
        parsed.get(0).describeMismatch(values).ifPresent(mismatch -> {
          throw new IllegalArgumentException(strategy + " state slot '" + slot.getKey()
              + "' is not shaped like slot '" + slots.get(0) + "': " + mismatch);
        });
      }
      parsed.add(values);
    }
    return List.copyOf(parsed);
  }

  /** Float32 tensors of the template's structure, every element {@code value}. */
  private static Parameters filled(Parameters template, float value) {
    List<Tensor> tensors = new ArrayList<>(template.size());
    for (Tensor tensor : template) {
      ByteBuffer data = ByteBuffer.allocateDirect(Math.toIntExact(tensor.elementCount() * 4))
          .order(ByteOrder.LITTLE_ENDIAN);
      while (data.hasRemaining()) {
        data.putFloat(value);
      }
      tensors.add(new Tensor(tensor.name(), DType.FLOAT32, tensor.shape(), data.flip()));
    }
    return new Parameters(tensors);
  }

  /**
   * Checks a knob that must be positive and finite.
   *
   * @return the value
   * @throws IllegalArgumentException naming the knob and the value otherwise
   */
  static double positiveFinite(String knob, double value) {
    if (!(value > 0) || Double.isInfinite(value)) {
      throw new IllegalArgumentException(
          knob + " must be positive and finite, in (0, inf), but was " + value);
    }
    return value;
  }

  /**
   * Checks a decay factor, which must be in {@code [0, 1)}.
   *
   * @return the value
   * @throws IllegalArgumentException naming the knob and the value otherwise
   */
  static double decay(String knob, double value) {
    if (!(value >= 0 && value < 1)) {
      throw new IllegalArgumentException(knob + " must be in [0, 1) but was " + value);
    }
    return value;
  }
}
