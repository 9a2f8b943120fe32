package dev.flops.api.strategy;

import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * One round attempt's updates, staged in one file on disk so that a strategy that needs every
 * update at once (a median, Krum, Bulyan) holds a few blocks of them in memory, never n models.
 *
 * <p>Layout: the float32 values of update {@code i} (in arrival order) fill bytes
 * {@code [i·P·4, (i+1)·P·4)} of the file, little-endian, tensor after tensor in the template's
 * order, where P is the template's element count. Reading goes tensor by tensor and, within a
 * tensor, block by block ({@code blockValues} coordinates, 64 Ki by default): the block of each
 * wanted update is read with a positional {@link FileChannel#read(ByteBuffer, long)} into one
 * direct buffer that is reused for the whole round, so memory is {@code k × blockValues × 4} bytes
 * for a rule that combines k updates (one while updates arrive), whatever P is.
 *
 * <p>Why positional reads and not memory-mapped files: the pages of a mapping count in the process
 * RSS while they stay mapped (and a mapping of n models stays mapped until the GC unmaps it), so a
 * large model would show up as n × P × 4 bytes of resident memory and could get the aggregator
 * killed by a container's memory limit. Pages read through the page cache belong to the kernel,
 * which drops them under pressure; the process keeps only its one block buffer.
 *
 * <p>Writing: each tensor of a borrowed update goes to the file in slices of at most
 * {@code blockValues × 4} bytes, so that a heap buffer costs the JDK one temporary direct buffer of
 * that size, not of the tensor's.
 *
 * <p>Lifetime: the file is created (mode 0600, in a directory created if missing) when the first
 * update arrives, and deleted by {@link #close()}, which the combiner calls once in every case
 * (round finished, attempt discarded, training failed). {@link java.io.File#deleteOnExit()} is the
 * safety net for a JVM that ends otherwise; it keeps one path string per round attempt until the
 * JVM exits. If deleting fails, {@code close()} leaves the file to that safety net.
 *
 * <p>Not thread-safe: one thread at a time, as {@link UpdateCombiner} is used.
 */
final class UpdateStaging implements AutoCloseable {
  /** Coordinates per block: 64 Ki float32 values, 256 KiB per update read at a time. */
  static final int DEFAULT_BLOCK_VALUES = 64 * 1024;

  private final Path directory;
  private final String prefix;
  private final Parameters template;
  private final int blockValues;
  private final long[] tensorOffsets;
  private final long totalValues;
  private final long longestTensor;
  private final List<String> learnerIds = new ArrayList<>();
  private final List<Long> examples = new ArrayList<>();
  private final Set<String> seen = new HashSet<>();
  private Path file;
  private FileChannel channel;
  private ByteBuffer block;
  private FloatBuffer blockFloats;
  private boolean closed;

  /**
   * Prepares staging; creates nothing on disk until the first update.
   *
   * @param directory where the round's file goes
   * @param prefix the start of the file's name, e.g. {@code krum-round-3-}
   * @param template the global parameters: every tensor FLOAT32
   * @param blockValues coordinates per block, at least 1
   * @throws IllegalArgumentException if a tensor is not FLOAT32
   */
  UpdateStaging(Path directory, String prefix, Parameters template, int blockValues) {
    this.directory = Objects.requireNonNull(directory, "directory");
    this.prefix = Objects.requireNonNull(prefix, "prefix");
    this.template = Objects.requireNonNull(template, "template");
    if (blockValues < 1) {
      throw new IllegalArgumentException("blockValues must be at least 1 but was " + blockValues);
    }
    this.blockValues = blockValues;
    this.tensorOffsets = new long[template.size()];
    long offset = 0;
    long longest = 0;
    for (int t = 0; t < template.size(); t++) {
      Tensor tensor = template.tensors().get(t);
      if (tensor.dtype() != DType.FLOAT32) {
        throw new IllegalArgumentException("robust aggregation combines FLOAT32 tensors only, but "
            + "the model's tensor " + tensor.spec() + " is not; use FedAvg for this model");
      }
      tensorOffsets[t] = offset;
      offset += tensor.elementCount();
      longest = Math.max(longest, tensor.elementCount());
    }
    this.totalValues = offset;
    this.longestTensor = longest;
  }

  /**
   * Returns the default staging directory: {@code flops-staging} under {@code java.io.tmpdir}.
   *
   * @return the directory; not created here
   */
  static Path defaultDirectory() {
    return Path.of(System.getProperty("java.io.tmpdir"), "flops-staging");
  }

  /** Returns the number of updates staged. */
  int count() {
    return learnerIds.size();
  }

  /** Returns the learner id of update {@code index} (arrival order). */
  String learnerId(int index) {
    return learnerIds.get(index);
  }

  /** Returns the example count of update {@code index} (arrival order). */
  long examples(int index) {
    return examples.get(index);
  }

  /** Returns the values per update, P. */
  long valuesPerUpdate() {
    return totalValues;
  }

  /** Returns the capacity of the block buffer, in bytes: what the staging holds in memory. */
  int blockBufferBytes() {
    return block == null ? 0 : block.capacity();
  }

  /** Returns the staging file, or null before the first update and after {@link #close()}. */
  Path file() {
    return file;
  }

  /**
   * Writes the update to the file, after the ones staged before it. If it throws, the update is
   * not staged and the staging is as before.
   *
   * @throws IllegalArgumentException if this learner's update was staged already, or the
   *     structure differs from the template's
   * @throws UncheckedIOException if the file cannot be created or written; the message names the
   *     directory
   */
  void stage(BorrowedUpdate update) {
    checkOpen();
    if (seen.contains(update.learnerId())) {
      throw new IllegalArgumentException("the round already holds an update of learner "
          + update.learnerId() + "; each learner sends one update a round");
    }
    long base = (long) count() * totalValues * Float.BYTES;
    update.withParameters(parameters -> {
      checkStructure(parameters);
      try {
        FileChannel out = channel();
        for (int t = 0; t < parameters.size(); t++) {
          ByteBuffer data = parameters.tensors().get(t).data();
          long position = base + tensorOffsets[t] * Float.BYTES;
          int slice = blockValues * Float.BYTES;
          // long: a tensor of nearly 2 GiB must not overflow the loop.
          for (long from = data.position(); from < data.limit(); from += slice) {
            ByteBuffer piece = data.duplicate().position((int) from)
                .limit((int) Math.min(from + slice, data.limit()));
            while (piece.hasRemaining()) {
              position += out.write(piece, position);
            }
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot stage the update of " + update.learnerId()
            + " in " + directory + " (" + e + "); point stagingDirectory(...) at a writable "
            + "directory with room for " + (count() + 1) + " × " + totalValues + " × 4 bytes", e);
      }
      return null;
    });
    learnerIds.add(update.learnerId());
    examples.add(update.numExamples());
    seen.add(update.learnerId());
  }

  /**
   * Returns the squared Euclidean distance, in double, between the update and every update staged
   * so far (index = arrival order), reading the staged ones block by block. The sum runs over the
   * coordinates in the template's order, so that d(a, b) is the same double whichever arrived
   * first.
   */
  double[] squaredDistancesTo(BorrowedUpdate update) {
    checkOpen();
    int previous = count();
    double[] distances = new double[previous];
    if (previous == 0) {
      return distances;
    }
    update.withParameters(parameters -> {
      checkStructure(parameters);
      for (int t = 0; t < parameters.size(); t++) {
        FloatBuffer incoming = parameters.tensors().get(t).data().asFloatBuffer();
        long values = incoming.remaining();
        for (long start = 0; start < values; start += blockValues) {
          int length = (int) Math.min(blockValues, values - start);
          for (int p = 0; p < previous; p++) {
            // One staged update at a time: the buffer holds one block while updates arrive.
            FloatBuffer staged = read(new int[] {p}, t, start, length);
            double sum = distances[p];
            for (int j = 0; j < length; j++) {
              double d = (double) incoming.get((int) start + j) - staged.get(j);
              sum += d * d;
            }
            distances[p] = sum;
          }
        }
      }
      return null;
    });
    return distances;
  }

  /** Combines one coordinate's staged values: {@code values[k]} is update {@code updates[k]}'s. */
  interface CoordinateRule {
    /**
     * Returns the coordinate's combined value.
     *
     * @param values the wanted updates' values of one coordinate; the rule may reorder them
     */
    float combine(float[] values);
  }

  /**
   * Combines the wanted updates coordinate by coordinate into new parameters with the template's
   * structure (direct buffers of P × 4 bytes in all: the result), reading block by block.
   *
   * @param updates indices (arrival order) of the updates to read, in the order the rule sees them
   * @param rule what one coordinate's values become
   * @return float32 parameters shaped like the template
   */
  Parameters combine(int[] updates, CoordinateRule rule) {
    checkOpen();
    if (updates.length == 0) {
      throw new IllegalStateException("no updates to combine");
    }
    float[] values = new float[updates.length];
    List<Tensor> result = new ArrayList<>(template.size());
    for (int t = 0; t < template.size(); t++) {
      Tensor shape = template.tensors().get(t);
      long count = shape.elementCount();
      // Off the heap, like the kernel's mean: an aggregator sizes its heap for sessions, not models.
      ByteBuffer bytes = ByteBuffer.allocateDirect(Math.toIntExact(count * Float.BYTES))
          .order(ByteOrder.LITTLE_ENDIAN);
      FloatBuffer out = bytes.asFloatBuffer();
      for (long start = 0; start < count; start += blockValues) {
        int length = (int) Math.min(blockValues, count - start);
        FloatBuffer staged = read(updates, t, start, length);
        for (int j = 0; j < length; j++) {
          for (int k = 0; k < updates.length; k++) {
            values[k] = staged.get(k * length + j);
          }
          out.put(rule.combine(values));
        }
      }
      result.add(new Tensor(shape.name(), DType.FLOAT32, shape.shape(), bytes));
    }
    return new Parameters(result);
  }

  /**
   * Reads coordinates {@code [start, start + length)} of tensor {@code t} of each wanted update
   * into the reused block buffer: update {@code updates[k]}'s values at {@code [k·length,
   * (k+1)·length)} of the returned view.
   */
  private FloatBuffer read(int[] updates, int t, long start, int length) {
    // Sized for the longest block any tensor has, so that it is allocated once per size of
    // {@code updates}: one block while updates arrive, the combined updates' blocks at the end.
    long capacity = (long) updates.length * Math.min(blockValues, longestTensor) * Float.BYTES;
    if (block == null || block.capacity() < capacity) {
      block = ByteBuffer.allocateDirect(Math.toIntExact(capacity)).order(ByteOrder.LITTLE_ENDIAN);
      blockFloats = block.asFloatBuffer();
    }
    try {
      for (int k = 0; k < updates.length; k++) {
        int from = k * length * Float.BYTES;
        ByteBuffer target = block.duplicate().position(from).limit(from + length * Float.BYTES);
        long position = ((long) updates[k] * totalValues + tensorOffsets[t] + start) * Float.BYTES;
        while (target.hasRemaining()) {
          int read = channel.read(target, position + (target.position() - from));
          if (read < 0) {
            throw new IOException("the staging file " + file + " ended early: was it truncated?");
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the staged updates back from " + file, e);
    }
    return blockFloats;
  }

  private void checkStructure(Parameters parameters) {
    template.describeMismatch(parameters).ifPresent(mismatch -> {
      throw new IllegalArgumentException("the update does not match the global parameters: "
          + mismatch);
    });
  }

  private FileChannel channel() throws IOException {
    if (channel == null) {
      Files.createDirectories(directory);
      Path created = Files.createTempFile(directory, prefix, ".f32");
      created.toFile().deleteOnExit();
      file = created;
      channel = FileChannel.open(created, StandardOpenOption.READ, StandardOpenOption.WRITE);
    }
    return channel;
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("the round's staged updates were closed already");
    }
  }

  /** Closes and deletes the file; calling it again does nothing. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    block = null;
    blockFloats = null;
    try {
      if (channel != null) {
        channel.close();
      }
    } catch (IOException e) {
      // The file is deleted below all the same; nothing was lost that a caller could still use.
    } finally {
      try {
        if (file != null) {
          Files.deleteIfExists(file);
        }
      } catch (IOException e) {
        // Left to deleteOnExit: a close() that threw would cost the round its result.
      }
      file = null;
    }
  }
}
