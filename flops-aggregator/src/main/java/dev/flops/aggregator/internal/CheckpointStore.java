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
 * <h2>Format, version 1</h2>
 *
 * <pre>
 * offset   size  field
 * 0        8     magic "FLOPSCKP" (ASCII)
 * 8        4     format version, unsigned big-endian: 1
 * 12       4     header length H, unsigned big-endian
 * 16       4     CRC32C of the header bytes, big-endian
 * 20       H     header: a UTF-8 JSON object (below)
 * 20+H     D     tensor data: each tensor's raw little-endian bytes, in header order, no padding;
 *                D is the header's "data_bytes", the sum of the tensors' sizes
 * 20+H+D   4     CRC32C of the D data bytes, big-endian; the file ends here
 * </pre>
 *
 * <p>The header holds {@code round} (the last completed round), {@code written_at} (ISO-8601),
 * {@code tensors} (a list of {@code {name, dtype, shape}}), {@code data_bytes},
 * {@code strategy_state} and {@code extras} (string to string maps), {@code learners} (learner
 * key to learner id), {@code best_round} (0 if none) and {@code rounds}: one object per completed
 * round with {@code round}, {@code fit_succeeded}, {@code fit_failed}, {@code evaluate_succeeded},
 * {@code evaluate_failed}, {@code duration_nanos}, {@code failures} (a list of
 * {@code {learner_id, reason, kind}}, kind optional), {@code evaluation} ({@code null} or
 * {@code {loss, num_examples, learners, metrics}}), {@code resources} ({@code {bytes_received, bytes_sent,
 * process_cpu_seconds, heap_used_bytes, non_heap_used_bytes, off_heap_bytes}}),
 * {@code learner_wait_nanos}, {@code fit_examples}, {@code fit_metrics} and
 * {@code central_evaluation} ({@code {loss, num_examples, metrics}}, absent if none). The last
 * four are absent in checkpoints written before they existed: read as zero, empty and none.
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
  /** The format version this class writes and reads. */
  public static final int FORMAT_VERSION = 1;

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
        CRC32C dataCrc = new CRC32C();
        for (Tensor tensor : checkpoint.parameters()) {
          ByteBuffer data = tensor.data();
          while (data.hasRemaining()) {
            ByteBuffer slice = data.slice();
            slice.limit(Math.min(SLICE_BYTES, slice.remaining()));
            data.position(data.position() + slice.remaining());
            dataCrc.update(slice.duplicate());
            writeFully(out, slice);
          }
        }
        writeFully(out, ByteBuffer.allocate(4).putInt((int) dataCrc.getValue()).flip());
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

  /**
   * Reads the checkpoint, if there is one.
   *
   * @param template the parameters the checkpoint must fit (names, dtypes and shapes), checked
   *     before any tensor data is read; null to accept any
   * @return the checkpoint, or empty if the directory holds none
   * @throws CheckpointException if the file is not a flops checkpoint, is of another format
   *     version, is truncated or corrupt, or does not fit the template; the message says what is
   *     wrong and what to do
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
    if (version != FORMAT_VERSION) {
      throw new CheckpointException(String.format("%s is in checkpoint format version %d but "
          + "this flops reads version %d; resume with the flops release that wrote it",
          file, Integer.toUnsignedLong(version), FORMAT_VERSION));
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
    try {
      json = JsonParser.parseString(new String(header, StandardCharsets.UTF_8)).getAsJsonObject();
      specs = tensorSpecs(json.getAsJsonArray("tensors"));
      dataBytes = json.get("data_bytes").getAsLong();
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
    long specBytes = 0;
    for (Spec spec : specs) {
      specBytes += spec.byteSize();
    }
    long expectedSize = PREFIX_BYTES + headerLength + dataBytes + 4;
    if (specBytes != dataBytes || size != expectedSize) {
      throw corrupt(String.format("it holds %d bytes but its header announces %d (%d bytes of "
          + "tensor data); the file is truncated or was not written by flops", size,
          expectedSize, dataBytes));
    }
    CRC32C dataCrc = new CRC32C();
    List<Tensor> tensors = new ArrayList<>(specs.size());
    for (Spec spec : specs) {
      ByteBuffer data = ByteBuffer.allocate((int) spec.byteSize())
          .order(ByteOrder.LITTLE_ENDIAN);
      while (data.hasRemaining()) {
        ByteBuffer slice = data.slice();
        slice.limit(Math.min(SLICE_BYTES, slice.remaining()));
        readFully(in, slice);
        dataCrc.update(slice.flip());
        data.position(data.position() + slice.limit());
      }
      tensors.add(new Tensor(spec.name(), spec.dtype(), spec.shape(), data.flip()));
    }
    int storedCrc = readFully(in, ByteBuffer.allocate(4)).flip().getInt();
    if (storedCrc != (int) dataCrc.getValue()) {
      throw corrupt(String.format("tensor data checksum mismatch (stored CRC32C %08x, computed "
          + "%08x)", storedCrc, (int) dataCrc.getValue()));
    }
    try {
      return fromHeader(json, new Parameters(tensors));
    } catch (RuntimeException e) {
      throw corrupt("its header is inconsistent: " + e.getMessage());
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
    JsonArray tensors = new JsonArray();
    for (Tensor tensor : checkpoint.parameters()) {
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
    json.add("tensors", tensors);
    json.addProperty("data_bytes", checkpoint.parameters().byteSize());
    json.add("strategy_state", GSON.toJsonTree(checkpoint.strategyState()));
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

  private static JsonObject summary(RoundSummary s) {
    JsonObject json = new JsonObject();
    json.addProperty("round", s.round());
    json.addProperty("fit_succeeded", s.fitSucceeded());
    json.addProperty("fit_failed", s.fitFailed());
    json.addProperty("evaluate_succeeded", s.evaluateSucceeded());
    json.addProperty("evaluate_failed", s.evaluateFailed());
    json.addProperty("duration_nanos", s.duration().toNanos());
    json.addProperty("learner_wait_nanos", s.learnerWait().toNanos());
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
    // The fit totals and central evaluation are part of the summary a resumed training returns.
    json.addProperty("fit_examples", s.fitExamples());
    json.add("fit_metrics", GSON.toJsonTree(s.fitMetrics()));
    EvaluateResult central = s.centralEvaluation();
    if (central != null) {
      JsonObject c = new JsonObject();
      c.addProperty("loss", central.loss());
      c.addProperty("num_examples", central.numExamples());
      c.add("metrics", GSON.toJsonTree(central.metrics()));
      json.add("central_evaluation", c);
    }
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

  private static Checkpoint fromHeader(JsonObject json, Parameters parameters) {
    List<RoundSummary> rounds = new ArrayList<>();
    for (JsonElement element : json.getAsJsonArray("rounds")) {
      rounds.add(roundSummary(element.getAsJsonObject()));
    }
    return new Checkpoint(
        json.get("round").getAsInt(),
        parameters,
        stringMap(json.getAsJsonObject("strategy_state")),
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
      evaluation = new Evaluation(o.get("loss").getAsDouble(), o.get("num_examples").getAsLong(),
          o.get("learners").getAsInt(), finiteMetrics(o.getAsJsonObject("metrics")));
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
    // Fit totals and central evaluation are absent from checkpoints written before they existed.
    EvaluateResult central = null;
    JsonElement c = json.get("central_evaluation");
    if (c != null && !c.isJsonNull()) {
      JsonObject o = c.getAsJsonObject();
      central = new EvaluateResult(o.get("loss").getAsDouble(), o.get("num_examples").getAsLong(),
          finiteMetrics(o.getAsJsonObject("metrics")));
    }
    return new RoundSummary(json.get("round").getAsInt(), json.get("fit_succeeded").getAsInt(),
        json.get("fit_failed").getAsInt(), json.get("evaluate_succeeded").getAsInt(),
        json.get("evaluate_failed").getAsInt(), evaluation,
        Duration.ofNanos(json.get("duration_nanos").getAsLong()), failures, resources,
        Duration.ofNanos(json.has("learner_wait_nanos")
            ? json.get("learner_wait_nanos").getAsLong() : 0),
        json.has("fit_examples") ? json.get("fit_examples").getAsLong() : 0,
        json.has("fit_metrics") ? finiteMetrics(json.getAsJsonObject("fit_metrics")) : Map.of(),
        central);
  }

  /**
   * Reads a metrics object. Earlier versions let non-finite metrics through to the checkpoint:
   * drop them, so that such a checkpoint still resumes.
   */
  private static Map<String, Double> finiteMetrics(JsonObject json) {
    Map<String, Double> metrics = new LinkedHashMap<>();
    json.entrySet().stream()
        .filter(entry -> Double.isFinite(entry.getValue().getAsDouble()))
        .forEach(entry -> metrics.put(entry.getKey(), entry.getValue().getAsDouble()));
    return metrics;
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
