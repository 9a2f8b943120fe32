package dev.flops.aggregator.internal;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.flops.api.DType;
import dev.flops.api.EvaluateResult;
import dev.flops.api.Evaluation;
import dev.flops.api.LearnerFailure;
import dev.flops.api.Parameters;
import dev.flops.api.RoundResources;
import dev.flops.api.RoundSummary;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.StrategyState;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes and reads the aggregator's checkpoint: one file, {@value #FILE_NAME}, in a directory that
 * the aggregator holds a lock on ({@value #LOCK_NAME}) while it trains.
 *
 * <h2>Format, version 2</h2>
 *
 * <pre>
 * offset       size  field
 * 0            8     magic "FLOPSCKP" (ASCII)
 * 8            4     format version, unsigned big-endian: 2
 * 12           4     header length H, unsigned big-endian
 * 16           4     CRC32C of the header bytes, big-endian
 * 20           H     header: a UTF-8 JSON object (below)
 * 20+H         D     global parameters: each tensor's raw little-endian bytes, in the order of the
 *                    header's "tensors", no padding; D is the header's "data_bytes"
 * 20+H+D       4     CRC32C of the D bytes, big-endian
 * 24+H+D       S     strategy state tensors: each tensor's raw little-endian bytes, in the order of
 *                    the header's "strategy_tensors", no padding; S is "strategy_data_bytes" (0 for
 *                    a strategy without tensors)
 * 24+H+D+S     4     CRC32C of the S bytes, big-endian; the file ends here
 * </pre>
 *
 * <p>The header holds {@code round} (the last completed round), {@code written_at} (ISO-8601),
 * {@code tensors} and {@code strategy_tensors} (lists of {@code {name, dtype, shape}}),
 * {@code data_bytes} and {@code strategy_data_bytes}, {@code strategy_state} (the state's string
 * entries) and {@code extras} (string to string maps), {@code learners} (learner
 * key to learner id), {@code best_round} (0 if none) and {@code rounds}: one object per completed
 * round with {@code round}, {@code fit_succeeded}, {@code fit_failed}, {@code evaluate_succeeded},
 * {@code evaluate_failed}, {@code duration_nanos}, {@code failures} (a list of
 * {@code {learner_id, reason, kind}}, kind optional), {@code evaluation} ({@code null} or
 * {@code {loss, num_examples, learners, metrics}}), {@code resources} ({@code {bytes_received, bytes_sent,
 * process_cpu_seconds, heap_used_bytes, non_heap_used_bytes, off_heap_bytes}}) and
 * {@code learner_wait_nanos} (absent in checkpoints written before it existed: read as zero),
 * {@code fit_examples} and {@code fit_metrics} (the aggregated fit's example total and metrics;
 * absent in checkpoints written before them: read as zero and none), and {@code central}
 * ({@code {loss, num_examples, metrics}} of the round's central evaluation; absent when it had
 * none or in checkpoints written before it).
 *
 * <p><b>Version 1</b> (written before strategies had tensor state) is version 2 without the
 * strategy section: the file ends with the CRC32C of the global parameters, and the header has no
 * {@code strategy_tensors} or {@code strategy_data_bytes}. It is still read; its
 * {@code strategy_state} becomes a {@link StrategyState} without tensors. A later version is
 * refused with a message naming both versions.
 *
 * <p>Writing is atomic: the checkpoint goes to a temporary file in the same directory, is forced
 * to disk ({@code fsync}), then renamed over the previous one in one atomic step, and the
 * directory is forced too. A crash at any point leaves either the previous checkpoint or the new
 * one, never a mix; a temporary file left by a crash is deleted by the next aggregator that opens
 * the directory. Tensor data is streamed in slices of {@value #SLICE_BYTES} bytes in both
 * directions, so a model of any size never needs one array holding all of it. The file is created
 * readable by its owner only: it holds the model and the learners' keys.
 */
public final class CheckpointStore implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CheckpointStore.class);

  /** The checkpoint's file name in its directory. */
  public static final String FILE_NAME = "flops-checkpoint.bin";
  /** The lock file that keeps two aggregators out of one directory. */
  public static final String LOCK_NAME = "flops-checkpoint.lock";
  /** The format version this class writes; it reads this one and {@link #OLDEST_VERSION}. */
  public static final int FORMAT_VERSION = 2;
  /** The oldest format version this class still reads: strategy state without tensors. */
  public static final int OLDEST_VERSION = 1;

  static final byte[] MAGIC = "FLOPSCKP".getBytes(StandardCharsets.US_ASCII);
  static final int PREFIX_BYTES = 20;
  static final int SLICE_BYTES = 1 << 20;
  private static final int MAX_HEADER_BYTES = 256 << 20;
  private static final String TEMP_PREFIX = FILE_NAME + ".tmp-";
  private static final Gson GSON = new GsonBuilder()
      .serializeSpecialFloatingPointValues().disableHtmlEscaping().create();

  private final Path directory;
  private final Path file;
  private final FileChannel lockChannel;
  private final FileLock lock;
  /** Runs between the forced temporary file and the rename; tests make it throw, like a crash. */
  private final Runnable beforeRename;

  private CheckpointStore(Path directory, Runnable beforeRename) throws IOException {
    this.directory = directory;
    this.file = directory.resolve(FILE_NAME);
    this.beforeRename = beforeRename;
    try {
      Files.createDirectories(directory);
    } catch (IOException e) {
      throw new IOException("cannot create the checkpoint directory " + directory + ": " + e, e);
    }
    if (!Files.isDirectory(directory)) {
      throw new IOException("the checkpoint directory " + directory + " is not a directory");
    }
    lockChannel = FileChannel.open(directory.resolve(LOCK_NAME),
        StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    FileLock acquired;
    try {
      acquired = lockChannel.tryLock();
    } catch (OverlappingFileLockException e) {
      acquired = null;
    }
    if (acquired == null) {
      lockChannel.close();
      throw new IOException("the checkpoint directory " + directory + " is in use by another "
          + "aggregator; give each aggregator its own directory");
    }
    lock = acquired;
    deleteStaleTemporaryFiles();
  }

  /**
   * Opens a checkpoint directory, creating it if needed, and locks it for this aggregator.
   *
   * @throws IOException if the directory cannot be created or another aggregator holds it
   */
  public static CheckpointStore open(Path directory) throws IOException {
    return new CheckpointStore(directory, () -> {});
  }

  /** As {@link #open}, with a hook that runs just before the atomic rename; for tests. */
  static CheckpointStore open(Path directory, Runnable beforeRename) throws IOException {
    return new CheckpointStore(directory, beforeRename);
  }

  /** Returns the checkpoint file (which may not exist yet). */
  public Path file() {
    return file;
  }

  /**
   * Writes a checkpoint atomically over the previous one.
   *
   * @throws IOException if it cannot be written; the previous checkpoint is then intact
   */
  public void write(Checkpoint checkpoint) throws IOException {
    Path temp = directory.resolve(TEMP_PREFIX + UUID.randomUUID());
    try {
      try (FileChannel out = createOwnerOnly(temp)) {
        byte[] header = GSON.toJson(header(checkpoint)).getBytes(StandardCharsets.UTF_8);
        CRC32C headerCrc = new CRC32C();
        headerCrc.update(header);
        ByteBuffer prefix = ByteBuffer.allocate(PREFIX_BYTES).order(ByteOrder.BIG_ENDIAN)
            .put(MAGIC).putInt(FORMAT_VERSION).putInt(header.length)
            .putInt((int) headerCrc.getValue());
        writeFully(out, prefix.flip());
        writeFully(out, ByteBuffer.wrap(header));
        writeSection(out, checkpoint.parameters());
        writeSection(out, checkpoint.strategyState().tensors());
        out.force(true);
      }
      beforeRename.run();
      try {
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException("the file system of " + directory + " cannot rename atomically; "
            + "put the checkpoint directory on a local file system", e);
      }
      forceDirectory();
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(temp);
      throw e;
    }
  }

  /** Streams the tensors' data in slices, then the CRC32C of all of it. */
  private static void writeSection(FileChannel out, Parameters tensors) throws IOException {
    CRC32C crc = new CRC32C();
    for (Tensor tensor : tensors) {
      ByteBuffer data = tensor.data();
      while (data.hasRemaining()) {
        ByteBuffer slice = data.slice();
        slice.limit(Math.min(SLICE_BYTES, slice.remaining()));
        data.position(data.position() + slice.remaining());
        crc.update(slice.duplicate());
        writeFully(out, slice);
      }
    }
    writeFully(out, ByteBuffer.allocate(4).putInt((int) crc.getValue()).flip());
  }

  /**
   * Reads the checkpoint, if there is one.
   *
   * @param template the parameters the checkpoint must fit (names, dtypes and shapes), checked
   *     before any tensor data is read; null to accept any
   * @return the checkpoint, or empty if the directory holds none
   * @throws CheckpointException if the file is not a flops checkpoint, is of a format version
   *     this class does not read (a later one), is truncated or corrupt, or does not fit the
   *     template; the message says what is wrong and what to do
   * @throws IOException if the file cannot be read
   */
  public Optional<Checkpoint> read(Parameters template) throws IOException {
    try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
      return Optional.of(read(in, template));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
  }

  private Checkpoint read(FileChannel in, Parameters template) throws IOException {
    long size = in.size();
    if (size < PREFIX_BYTES) {
      throw corrupt("it holds " + size + " bytes, less than the " + PREFIX_BYTES
          + "-byte prefix of a flops checkpoint");
    }
    ByteBuffer prefix = readFully(in, ByteBuffer.allocate(PREFIX_BYTES)).flip();
    byte[] magic = new byte[MAGIC.length];
    prefix.get(magic);
    if (!Arrays.equals(magic, MAGIC)) {
      throw new CheckpointException(file + " is not a flops checkpoint (it does not start with "
          + "\"FLOPSCKP\"); point the checkpoint directory elsewhere or delete the file");
    }
    int version = prefix.getInt();
    if (version < OLDEST_VERSION || version > FORMAT_VERSION) {
      throw new CheckpointException(String.format("%s is in checkpoint format version %d but "
          + "this flops reads versions %d to %d; resume with the flops release that wrote it "
          + "(or a later one)", file, Integer.toUnsignedLong(version), OLDEST_VERSION,
          FORMAT_VERSION));
    }
    long headerLength = Integer.toUnsignedLong(prefix.getInt());
    int headerCrc = prefix.getInt();
    if (headerLength > MAX_HEADER_BYTES || PREFIX_BYTES + headerLength > size) {
      throw corrupt("its header length " + headerLength + " does not fit in its " + size
          + " bytes");
    }
    byte[] header = new byte[(int) headerLength];
    readFully(in, ByteBuffer.wrap(header));
    CRC32C crc = new CRC32C();
    crc.update(header);
    if ((int) crc.getValue() != headerCrc) {
      throw corrupt(String.format("header checksum mismatch (stored CRC32C %08x, computed %08x)",
          headerCrc, (int) crc.getValue()));
    }
    JsonObject json;
    List<Spec> specs;
    long dataBytes;
    List<Spec> stateSpecs = List.of();
    long stateBytes = 0;
    try {
      json = JsonParser.parseString(new String(header, StandardCharsets.UTF_8)).getAsJsonObject();
      specs = tensorSpecs(json.getAsJsonArray("tensors"));
      dataBytes = json.get("data_bytes").getAsLong();
      if (version >= 2) {
        stateSpecs = tensorSpecs(json.getAsJsonArray("strategy_tensors"));
        stateBytes = json.get("strategy_data_bytes").getAsLong();
      }
    } catch (RuntimeException e) {
      throw corrupt("its header cannot be read: " + e.getMessage());
    }
    if (template != null) {
      Optional<String> mismatch = describeMismatch(template, specs);
      if (mismatch.isPresent()) {
        throw new CheckpointException(String.format("the checkpoint %s does not fit the model: "
            + "%s; resume with the model it was written for, or start without resume in another "
            + "checkpoint directory", file, mismatch.get()));
      }
    }
    long expectedSize = PREFIX_BYTES + headerLength + dataBytes + 4
        + (version >= 2 ? stateBytes + 4 : 0);
    if (byteSize(specs) != dataBytes || byteSize(stateSpecs) != stateBytes
        || size != expectedSize) {
      throw corrupt(String.format("it holds %d bytes but its header announces %d (%d bytes of "
          + "tensor data, %d of strategy state tensors); the file is truncated or was not "
          + "written by flops", size, expectedSize, dataBytes, stateBytes));
    }
    Parameters parameters = readSection(in, specs, "tensor data");
    Parameters stateTensors = version >= 2
        ? readSection(in, stateSpecs, "strategy state tensor data")
        : StrategyState.empty().tensors();
    try {
      return fromHeader(json, parameters, stateTensors);
    } catch (RuntimeException e) {
      throw corrupt("its header is inconsistent: " + e.getMessage());
    }
  }

  private static long byteSize(List<Spec> specs) {
    long bytes = 0;
    for (Spec spec : specs) {
      bytes += spec.byteSize();
    }
    return bytes;
  }

  /**
   * Reads the tensors of one section in slices, then its CRC32C, and refuses the section if the
   * two disagree; {@code what} names the section in that error.
   */
  private Parameters readSection(FileChannel in, List<Spec> specs, String what)
      throws IOException {
    CRC32C crc = new CRC32C();
    List<Tensor> tensors = new ArrayList<>(specs.size());
    for (Spec spec : specs) {
      ByteBuffer data = ByteBuffer.allocate((int) spec.byteSize())
          .order(ByteOrder.LITTLE_ENDIAN);
      while (data.hasRemaining()) {
        ByteBuffer slice = data.slice();
        slice.limit(Math.min(SLICE_BYTES, slice.remaining()));
        readFully(in, slice);
        crc.update(slice.flip());
        data.position(data.position() + slice.limit());
      }
      tensors.add(new Tensor(spec.name(), spec.dtype(), spec.shape(), data.flip()));
    }
    int storedCrc = readFully(in, ByteBuffer.allocate(4)).flip().getInt();
    if (storedCrc != (int) crc.getValue()) {
      throw corrupt(String.format("%s checksum mismatch (stored CRC32C %08x, computed %08x)",
          what, storedCrc, (int) crc.getValue()));
    }
    try {
      return new Parameters(tensors);
    } catch (IllegalArgumentException e) {
      throw corrupt("its " + what + " cannot be read: " + e.getMessage());
    }
  }

  /** Releases the directory lock. */
  @Override
  public void close() throws IOException {
    try {
      lock.release();
    } finally {
      lockChannel.close();
    }
  }

  private CheckpointException corrupt(String what) {
    return new CheckpointException(String.format("the checkpoint %s is corrupt: %s; restore it "
        + "from a backup, or delete it to start the training over", file, what));
  }

  private static JsonObject header(Checkpoint checkpoint) {
    JsonObject json = new JsonObject();
    json.addProperty("round", checkpoint.round());
    json.addProperty("written_at", Instant.now().toString());
    json.add("tensors", specs(checkpoint.parameters()));
    json.addProperty("data_bytes", checkpoint.parameters().byteSize());
    StrategyState state = checkpoint.strategyState();
    json.add("strategy_tensors", specs(state.tensors()));
    json.addProperty("strategy_data_bytes", state.tensors().byteSize());
    json.add("strategy_state", GSON.toJsonTree(state.values()));
    json.add("extras", GSON.toJsonTree(checkpoint.extras()));
    json.add("learners", GSON.toJsonTree(checkpoint.learners()));
    json.addProperty("best_round", checkpoint.bestRound());
    JsonArray rounds = new JsonArray();
    for (RoundSummary summary : checkpoint.rounds()) {
      rounds.add(summary(summary));
    }
    json.add("rounds", rounds);
    return json;
  }

  private static JsonArray specs(Parameters parameters) {
    JsonArray tensors = new JsonArray();
    for (Tensor tensor : parameters) {
      JsonObject spec = new JsonObject();
      spec.addProperty("name", tensor.name());
      spec.addProperty("dtype", tensor.dtype().name());
      JsonArray shape = new JsonArray();
      for (long dim : tensor.shape()) {
        shape.add(dim);
      }
      spec.add("shape", shape);
      tensors.add(spec);
    }
    return tensors;
  }

  private static JsonObject summary(RoundSummary s) {
    JsonObject json = new JsonObject();
    json.addProperty("round", s.round());
    json.addProperty("fit_succeeded", s.fitSucceeded());
    json.addProperty("fit_failed", s.fitFailed());
    json.addProperty("evaluate_succeeded", s.evaluateSucceeded());
    json.addProperty("evaluate_failed", s.evaluateFailed());
    json.addProperty("duration_nanos", s.duration().toNanos());
    json.addProperty("learner_wait_nanos", s.learnerWait().toNanos());
    // A resumed training reports them as the interrupted one did: a cluster aggregator resumed
    // after its last cycle answers the root with the examples that cycle aggregated.
    json.addProperty("fit_examples", s.fitExamples());
    JsonObject fitMetrics = new JsonObject();
    s.fitMetrics().forEach((name, value) -> {
      if (Double.isFinite(value)) {
        fitMetrics.addProperty(name, value);
      }
    });
    json.add("fit_metrics", fitMetrics);
    s.central().ifPresent(central -> {
      JsonObject c = new JsonObject();
      c.addProperty("loss", central.loss());
      c.addProperty("num_examples", central.numExamples());
      JsonObject centralMetrics = new JsonObject();
      central.metrics().forEach(centralMetrics::addProperty);
      c.add("metrics", centralMetrics);
      json.add("central", c);
    });
    JsonArray failures = new JsonArray();
    for (LearnerFailure failure : s.failures()) {
      JsonObject f = new JsonObject();
      f.addProperty("learner_id", failure.learnerId());
      f.addProperty("reason", failure.reason());
      f.addProperty("kind", failure.kind().name());
      failures.add(f);
    }
    json.add("failures", failures);
    Evaluation e = s.evaluation();
    if (e == null) {
      json.add("evaluation", null);
    } else {
      JsonObject evaluation = new JsonObject();
      evaluation.addProperty("loss", e.loss());
      evaluation.addProperty("num_examples", e.numExamples());
      evaluation.addProperty("learners", e.learners());
      evaluation.add("metrics", GSON.toJsonTree(e.metrics()));
      json.add("evaluation", evaluation);
    }
    RoundResources r = s.resources();
    JsonObject resources = new JsonObject();
    resources.addProperty("bytes_received", r.bytesReceived());
    resources.addProperty("bytes_sent", r.bytesSent());
    resources.addProperty("process_cpu_seconds", r.processCpuSeconds());
    resources.addProperty("heap_used_bytes", r.heapUsedBytes());
    resources.addProperty("non_heap_used_bytes", r.nonHeapUsedBytes());
    resources.addProperty("off_heap_bytes", r.offHeapBytes());
    json.add("resources", resources);
    return json;
  }

  /** A tensor's name, type and shape as the header gives them. */
  private record Spec(String name, DType dtype, long[] shape, long byteSize) {

    String describe() {
      return name + " " + dtype + Arrays.toString(shape);
    }
  }

  private static List<Spec> tensorSpecs(JsonArray array) {
    List<Spec> specs = new ArrayList<>(array.size());
    for (JsonElement element : array) {
      JsonObject spec = element.getAsJsonObject();
      String name = spec.get("name").getAsString();
      DType dtype = DType.valueOf(spec.get("dtype").getAsString());
      JsonArray dims = spec.getAsJsonArray("shape");
      long[] shape = new long[dims.size()];
      long count = 1;
      for (int i = 0; i < shape.length; i++) {
        shape[i] = dims.get(i).getAsLong();
        if (shape[i] < 0) {
          throw new JsonParseException("tensor '" + name + "' has a negative dimension");
        }
        count = Math.multiplyExact(count, shape[i]);
      }
      long bytes = Math.multiplyExact(count, (long) dtype.byteSize());
      if (bytes > Integer.MAX_VALUE) {
        throw new JsonParseException("tensor '" + name + "' holds " + bytes
            + " bytes; one tensor holds at most " + Integer.MAX_VALUE);
      }
      specs.add(new Spec(name, dtype, shape, bytes));
    }
    return specs;
  }

  /** Describes the first difference between the model's tensors and the checkpoint's. */
  private static Optional<String> describeMismatch(Parameters template, List<Spec> specs) {
    if (template.size() != specs.size()) {
      return Optional.of(String.format("the model has %d tensors %s but the checkpoint %d %s",
          template.size(), template.names(), specs.size(),
          specs.stream().map(Spec::name).toList()));
    }
    for (int i = 0; i < specs.size(); i++) {
      Tensor expected = template.tensors().get(i);
      Spec actual = specs.get(i);
      if (!expected.name().equals(actual.name()) || expected.dtype() != actual.dtype()
          || !Arrays.equals(expected.shape(), actual.shape())) {
        return Optional.of(String.format("tensor #%d: the model has %s but the checkpoint %s",
            i, expected.spec(), actual.describe()));
      }
    }
    return Optional.empty();
  }

  private static Checkpoint fromHeader(JsonObject json, Parameters parameters,
      Parameters stateTensors) {
    List<RoundSummary> rounds = new ArrayList<>();
    for (JsonElement element : json.getAsJsonArray("rounds")) {
      rounds.add(roundSummary(element.getAsJsonObject()));
    }
    return new Checkpoint(
        json.get("round").getAsInt(),
        parameters,
        new StrategyState(stringMap(json.getAsJsonObject("strategy_state")), stateTensors),
        rounds,
        json.get("best_round").getAsInt(),
        stringMap(json.getAsJsonObject("extras")),
        stringMap(json.getAsJsonObject("learners")));
  }

  private static LearnerFailure.Kind failureKind(String name) {
    try {
      return LearnerFailure.Kind.valueOf(name);
    } catch (IllegalArgumentException e) {
      return LearnerFailure.Kind.OTHER; // written by a later flops with more kinds
    }
  }

  private static RoundSummary roundSummary(JsonObject json) {
    List<LearnerFailure> failures = new ArrayList<>();
    for (JsonElement element : json.getAsJsonArray("failures")) {
      JsonObject f = element.getAsJsonObject();
      // "kind" is absent from checkpoints written before failures were classified.
      JsonElement kind = f.get("kind");
      failures.add(new LearnerFailure(f.get("learner_id").getAsString(),
          f.get("reason").getAsString(), kind == null ? LearnerFailure.Kind.OTHER
              : failureKind(kind.getAsString())));
    }
    Evaluation evaluation = null;
    JsonElement e = json.get("evaluation");
    if (e != null && !e.isJsonNull()) {
      JsonObject o = e.getAsJsonObject();
      Map<String, Double> metrics = new LinkedHashMap<>();
      // Earlier versions let non-finite metrics through to the checkpoint: drop them, so that
      // such a checkpoint still resumes.
      o.getAsJsonObject("metrics").entrySet().stream()
          .filter(entry -> Double.isFinite(entry.getValue().getAsDouble()))
          .forEach(entry -> metrics.put(entry.getKey(), entry.getValue().getAsDouble()));
      evaluation = new Evaluation(o.get("loss").getAsDouble(), o.get("num_examples").getAsLong(),
          o.get("learners").getAsInt(), metrics);
    }
    RoundResources resources = RoundResources.UNKNOWN;
    JsonElement r = json.get("resources");
    if (r != null && !r.isJsonNull()) {
      JsonObject o = r.getAsJsonObject();
      resources = new RoundResources(o.get("bytes_received").getAsLong(),
          o.get("bytes_sent").getAsLong(), o.get("process_cpu_seconds").getAsDouble(),
          o.get("heap_used_bytes").getAsLong(), o.get("non_heap_used_bytes").getAsLong(),
          o.get("off_heap_bytes").getAsLong());
    }
    return new RoundSummary(json.get("round").getAsInt(), json.get("fit_succeeded").getAsInt(),
        json.get("fit_failed").getAsInt(), json.get("evaluate_succeeded").getAsInt(),
        json.get("evaluate_failed").getAsInt(), evaluation,
        Duration.ofNanos(json.get("duration_nanos").getAsLong()), failures, resources,
        Duration.ofNanos(json.has("learner_wait_nanos")
            ? json.get("learner_wait_nanos").getAsLong() : 0),
        json.has("fit_examples") ? json.get("fit_examples").getAsLong() : 0,
        json.has("fit_metrics") ? doubleMap(json.getAsJsonObject("fit_metrics")) : Map.of(),
        central(json.get("central")));
  }

  private static EvaluateResult central(JsonElement element) {
    if (element == null || element.isJsonNull()) {
      return null;
    }
    JsonObject o = element.getAsJsonObject();
    return new EvaluateResult(o.get("loss").getAsDouble(), o.get("num_examples").getAsLong(),
        doubleMap(o.getAsJsonObject("metrics")));
  }

  private static Map<String, Double> doubleMap(JsonObject json) {
    Map<String, Double> map = new LinkedHashMap<>();
    json.entrySet().forEach(entry -> map.put(entry.getKey(), entry.getValue().getAsDouble()));
    return map;
  }

  private static Map<String, String> stringMap(JsonObject json) {
    Map<String, String> map = new LinkedHashMap<>();
    json.entrySet().forEach(entry -> map.put(entry.getKey(), entry.getValue().getAsString()));
    return map;
  }

  private static FileChannel createOwnerOnly(Path path) throws IOException {
    try {
      Files.createFile(path, PosixFilePermissions.asFileAttribute(
          PosixFilePermissions.fromString("rw-------")));
    } catch (UnsupportedOperationException e) {
      Files.createFile(path);
    }
    return FileChannel.open(path, StandardOpenOption.WRITE);
  }

  private void forceDirectory() {
    try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ)) {
      dir.force(true);
    } catch (IOException e) {
      // Some platforms cannot open or force a directory; the rename itself is still atomic.
      log.debug("could not force the directory {}: {}", directory, e.toString());
    }
  }

  private void deleteStaleTemporaryFiles() throws IOException {
    try (DirectoryStream<Path> stale = Files.newDirectoryStream(directory, TEMP_PREFIX + "*")) {
      for (Path path : stale) {
        log.info("deleting {}, a checkpoint left unfinished by an earlier crash", path);
        Files.deleteIfExists(path);
      }
    }
  }

  private static void writeFully(FileChannel out, ByteBuffer buffer) throws IOException {
    while (buffer.hasRemaining()) {
      out.write(buffer);
    }
  }

  private ByteBuffer readFully(FileChannel in, ByteBuffer buffer) throws IOException {
    while (buffer.hasRemaining()) {
      if (in.read(buffer) < 0) {
        throw corrupt("it ends early, at byte " + in.position());
      }
    }
    return buffer;
  }
}
