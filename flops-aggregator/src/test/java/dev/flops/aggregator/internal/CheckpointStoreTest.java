package dev.flops.aggregator.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.ChildJvm;
import dev.flops.api.DType;
import dev.flops.api.Evaluation;
import dev.flops.api.LearnerFailure;
import dev.flops.api.Parameters;
import dev.flops.api.RoundResources;
import dev.flops.api.RoundSummary;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.StrategyState;
import java.io.InputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The checkpoint file: round trip, atomic replacement, and clear errors for unusable files. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CheckpointStoreTest {

  @TempDir
  Path dir;

  /** A checkpoint of {@code round} rounds with parameters drawn from {@code seed}. */
  static Checkpoint checkpoint(int round, long seed) {
    List<RoundSummary> rounds = new ArrayList<>();
    for (int r = 1; r <= round; r++) {
      Evaluation evaluation = r % 2 == 0 ? null
          : new Evaluation(0.5 / r, 1000 + r, 3, Map.of("accuracy", 0.6 + r / 100.0, "f1", 0.5));
      rounds.add(new RoundSummary(r, 3, 1, evaluation == null ? 0 : 3, 0, evaluation,
          Duration.ofMillis(1234 + r),
          List.of(new LearnerFailure("learner-4", "attempt 2: timed out after PT1S \"quoted\"")),
          new RoundResources(1L << 33, 4096 * r, 0.25 * r, 123_456_789, 9_876_543, -1),
          Duration.ofMillis(r == 1 ? 2500 : 0), 900L * r, Map.of("train_loss", 0.75 / r),
          r == 2 ? null : new dev.flops.api.EvaluateResult(0.4 / r, 10_000,
              Map.of("accuracy", 0.8 + r / 100.0))));
    }
    return new Checkpoint(round, parameters(seed), StrategyState.of(Map.of("sampling_seed", "-42",
        "sampling_draws", "7")), rounds, 1, Map.of("mlflow.experiment_id", "12",
        "mlflow.parent_run_id", "abc"), Map.of("key-1", "learner-1", "key-2", "learner-2"));
  }

  /** A matrix above one read/write slice (1 MiB), a vector and a scalar. */
  static Parameters parameters(long seed) {
    Random random = new Random(seed);
    float[] big = new float[600_000];
    for (int i = 0; i < big.length; i++) {
      big[i] = (float) random.nextGaussian();
    }
    return Parameters.of(
        Tensor.ofFloats("dense_W", new long[] {1000, 600}, big),
        Tensor.ofFloats("dense_b", (float) random.nextGaussian(), (float) random.nextGaussian()),
        Tensor.ofFloats("scale", new long[] {}, new float[] {3.5f}));
  }

  @Test
  void writeThenRead_everyFieldComesBack() throws Exception {
    Checkpoint written = checkpoint(3, 1);
    try (CheckpointStore store = CheckpointStore.open(dir)) {
      store.write(written);

      Checkpoint read = store.read(written.parameters()).orElseThrow();

      assertEquals(written, read);
      assertEquals(written.rounds(), read.rounds());
      assertEquals(written.best(), read.best());
      assertEquals(0.61, read.best().orElseThrow().accuracy(), 1e-12);
    }
  }

  @Test
  void emptyDirectory_readsNothing() throws Exception {
    try (CheckpointStore store = CheckpointStore.open(dir.resolve("new"))) {
      assertEquals(Optional.empty(), store.read(null));
      assertTrue(Files.isDirectory(dir.resolve("new")), "the directory is created");
    }
  }

  @Test
  void secondWrite_replacesTheFirst_andLeavesNoTemporaryFile() throws Exception {
    try (CheckpointStore store = CheckpointStore.open(dir)) {
      store.write(checkpoint(1, 1));
      store.write(checkpoint(2, 2));

      assertEquals(checkpoint(2, 2), store.read(null).orElseThrow());
    }
    assertEquals(List.of(CheckpointStore.FILE_NAME, CheckpointStore.LOCK_NAME), files());
  }

  @Test
  void failureBetweenWriteAndRename_keepsThePreviousCheckpoint() throws Exception {
    try (CheckpointStore store = CheckpointStore.open(dir)) {
      store.write(checkpoint(1, 1));
    }
    try (CheckpointStore store = CheckpointStore.open(dir, () -> {
      throw new IllegalStateException("disk unplugged");
    })) {
      assertThrows(IllegalStateException.class, () -> store.write(checkpoint(2, 2)));

      assertEquals(checkpoint(1, 1), store.read(null).orElseThrow());
    }
    assertEquals(List.of(CheckpointStore.FILE_NAME, CheckpointStore.LOCK_NAME), files());
  }

  @Test
  void processKilledBetweenWriteAndRename_previousCheckpointIntact_temporaryFileCleanedUp()
      throws Exception {
    try (ChildJvm writer = ChildJvm.start("checkpoint writer", List.of(),
        CheckpointCrashMain.class, dir.resolveSibling("writer.log"), dir.toString())) {
      writer.awaitLine("RENAME_PENDING"::equals, Duration.ofSeconds(30));
      writer.kill();
    }
    assertTrue(files().stream().anyMatch(f -> f.startsWith(CheckpointStore.FILE_NAME + ".tmp-")),
        "the crash left the forced, unrenamed temporary file: " + files());

    try (CheckpointStore store = CheckpointStore.open(dir)) {
      assertEquals(checkpoint(1, 7), store.read(null).orElseThrow());
    }
    assertEquals(List.of(CheckpointStore.FILE_NAME, CheckpointStore.LOCK_NAME), files());
  }

  @Test
  void flippedDataByte_failsNamingTheDataChecksum() throws Exception {
    long at = write(checkpoint(1, 1)) - 100;

    CheckpointException e = assertThrows(CheckpointException.class, () -> readAfter(raf -> {
      raf.seek(at);
      int b = raf.read();
      raf.seek(at);
      raf.write(b ^ 0x10);
    }));

    assertTrue(e.getMessage().contains("is corrupt: tensor data checksum mismatch"), e.getMessage());
    assertTrue(e.getMessage().contains("delete it to start the training over"), e.getMessage());
  }

  @Test
  void flippedHeaderByte_failsNamingTheHeaderChecksum() throws Exception {
    write(checkpoint(1, 1));

    CheckpointException e = assertThrows(CheckpointException.class, () -> readAfter(raf -> {
      raf.seek(CheckpointStore.PREFIX_BYTES + 3);
      int b = raf.read();
      raf.seek(CheckpointStore.PREFIX_BYTES + 3);
      raf.write(b ^ 0x01);
    }));

    assertTrue(e.getMessage().contains("header checksum mismatch"), e.getMessage());
  }

  @Test
  void truncatedFile_failsSayingSo() throws Exception {
    long size = write(checkpoint(1, 1));

    CheckpointException e = assertThrows(CheckpointException.class,
        () -> readAfter(raf -> raf.setLength(size - 1000)));

    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    assertTrue(e.getMessage().contains(CheckpointStore.FILE_NAME), e.getMessage());
  }

  @Test
  void otherFile_failsSayingItIsNotACheckpoint() throws Exception {
    Files.writeString(dir.resolve(CheckpointStore.FILE_NAME), "{\"round\": 3, \"weights\": []}");

    CheckpointException e = assertThrows(CheckpointException.class, this::read);

    assertTrue(e.getMessage().contains("is not a flops checkpoint"), e.getMessage());
  }

  @Test
  void otherFormatVersion_failsNamingBothVersions() throws Exception {
    write(checkpoint(1, 1));

    CheckpointException e = assertThrows(CheckpointException.class, () -> readAfter(raf -> {
      raf.seek(CheckpointStore.MAGIC.length);
      raf.writeInt(3);
    }));

    assertTrue(e.getMessage().contains("format version 3 but this flops reads versions 1 to 2; "
        + "resume with the flops release that wrote it"), e.getMessage());
  }

  /**
   * Server momentum and Adam-style moments are tensors: they are written as a second streamed
   * section (one tensor above a 1 MiB slice) and come back bit for bit, NaN payloads and negative
   * zeros included, next to the string entries.
   */
  @Test
  void strategyStateWithTensors_roundTripsBitExactly() throws Exception {
    Checkpoint written = withState(checkpoint(2, 3), momentumState(5));
    try (CheckpointStore store = CheckpointStore.open(dir)) {
      store.write(written);

      Checkpoint read = store.read(written.parameters()).orElseThrow();

      assertEquals(written, read);
      StrategyState state = read.strategyState();
      assertEquals(Map.of("beta", "0.9", "steps", "2"), state.values());
      assertEquals(List.of("momentum", "second_moment", "step"), state.tensors().names());
      for (Tensor tensor : written.strategyState().tensors()) {
        Tensor back = state.tensors().get(tensor.name());
        assertTrue(tensor.sameSpec(back), back.spec());
        assertEquals(tensor.data(), back.data(), tensor.name() + " differs in some byte");
      }
      assertEquals(Float.floatToRawIntBits(Float.intBitsToFloat(0x7fc0_1234)), Float
          .floatToRawIntBits(state.tensors().get("momentum").data().getFloat(4 * 17)));
    }
  }

  @Test
  void flippedStrategyTensorByte_failsNamingTheStrategySection() throws Exception {
    long at = write(withState(checkpoint(1, 1), momentumState(1))) - 4 - 20;

    CheckpointException e = assertThrows(CheckpointException.class, () -> readAfter(raf -> {
      raf.seek(at);
      int b = raf.read();
      raf.seek(at);
      raf.write(b ^ 0x04);
    }));

    assertTrue(e.getMessage().contains(
        "is corrupt: strategy state tensor data checksum mismatch"), e.getMessage());
  }

  @Test
  void truncatedStrategySection_failsSayingSo() throws Exception {
    long size = write(withState(checkpoint(1, 1), momentumState(1)));

    CheckpointException e = assertThrows(CheckpointException.class,
        () -> readAfter(raf -> raf.setLength(size - 8)));

    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
  }

  /**
   * {@code checkpoint-v1.bin} was written by the version-1 writer (commit ba03897) before the
   * strategy section existed: it still resumes, its string state without tensors.
   */
  @Test
  void versionOneFile_stillLoads_asStateWithoutTensors() throws Exception {
    try (InputStream v1 = getClass().getResourceAsStream("checkpoint-v1.bin")) {
      Files.copy(v1, dir.resolve(CheckpointStore.FILE_NAME));
    }
    Parameters model = Parameters.of(
        Tensor.ofFloats("dense_W", new long[] {2, 3}, new float[] {1f, -2f, 3.5f, 0.25f, -0f,
            1e-7f}),
        Tensor.ofFloats("dense_b", 0.5f, -0.5f, 2f),
        Tensor.ofFloats("scale", new long[] {}, new float[] {3.5f}));

    Checkpoint read;
    try (CheckpointStore store = CheckpointStore.open(dir)) {
      read = store.read(model).orElseThrow();
    }

    assertEquals(model, read.parameters());
    assertEquals(StrategyState.of(Map.of("sampling_seed", "-42", "sampling_draws", "7")),
        read.strategyState());
    assertEquals(2, read.round());
    assertEquals(1, read.bestRound());
    assertEquals(0.61, read.best().orElseThrow().accuracy(), 1e-12);
    assertEquals(Map.of("mlflow.experiment_id", "12"), read.extras());
    assertEquals(Map.of("key-1", "learner-1"), read.learners());
  }

  private static Checkpoint withState(Checkpoint c, StrategyState state) {
    return new Checkpoint(c.round(), c.parameters(), state, c.rounds(), c.bestRound(),
        c.extras(), c.learners());
  }

  /** A momentum of 1M floats, a small second moment and an INT64 step counter. */
  static StrategyState momentumState(long seed) {
    Random random = new Random(seed);
    float[] momentum = new float[1_000_000];
    for (int i = 0; i < momentum.length; i++) {
      momentum[i] = (float) random.nextGaussian();
    }
    momentum[17] = Float.intBitsToFloat(0x7fc0_1234);
    momentum[18] = -0f;
    momentum[19] = Float.MIN_VALUE;
    ByteBuffer step = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 2);
    return StrategyState.of(Map.of("beta", "0.9", "steps", "2")).withTensors(Parameters.of(
        Tensor.ofFloats("momentum", new long[] {1000, 1000}, momentum),
        Tensor.ofFloats("second_moment", 0.25f, 1e-30f, 4f),
        new Tensor("step", DType.INT64, new long[] {}, step)));
  }

  @Test
  void checkpointOfAnotherModel_failsNamingTheFirstDifference() throws Exception {
    write(checkpoint(1, 1));
    Parameters other = Parameters.of(
        Tensor.ofFloats("dense_W", new long[] {1000, 600}, new float[600_000]),
        Tensor.ofFloats("dense_b", new long[] {3}, new float[3]),
        Tensor.ofFloats("scale", new long[] {}, new float[1]));

    CheckpointException e;
    try (CheckpointStore store = CheckpointStore.open(dir)) {
      e = assertThrows(CheckpointException.class, () -> store.read(other));
    }

    assertTrue(e.getMessage().contains("does not fit the model: tensor #1: the model has "
        + "dense_b FLOAT32[3] but the checkpoint dense_b FLOAT32[2]"), e.getMessage());
  }

  @Test
  void directoryInUse_secondStoreRefused() throws Exception {
    CheckpointStore first = CheckpointStore.open(dir);
    IOException e = assertThrows(IOException.class, () -> CheckpointStore.open(dir));
    assertTrue(e.getMessage().contains("in use by another aggregator"), e.getMessage());
    first.close();
    CheckpointStore.open(dir).close(); // released on close
  }

  @Test
  void checkpointFile_readableByItsOwnerOnly() throws Exception {
    write(checkpoint(1, 1));

    assertEquals("rw-------", PosixFilePermissions.toString(
        Files.getPosixFilePermissions(dir.resolve(CheckpointStore.FILE_NAME))));
  }

  private long write(Checkpoint checkpoint) throws IOException {
    try (CheckpointStore store = CheckpointStore.open(dir)) {
      store.write(checkpoint);
      return Files.size(store.file());
    }
  }

  private interface FileEdit {
    void apply(RandomAccessFile file) throws IOException;
  }

  private Optional<Checkpoint> readAfter(FileEdit edit) throws IOException {
    try (RandomAccessFile file =
        new RandomAccessFile(dir.resolve(CheckpointStore.FILE_NAME).toFile(), "rw")) {
      edit.apply(file);
    }
    return read();
  }

  private Optional<Checkpoint> read() throws IOException {
    try (CheckpointStore store = CheckpointStore.open(dir)) {
      return store.read(null);
    }
  }

  private List<String> files() throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }
}
