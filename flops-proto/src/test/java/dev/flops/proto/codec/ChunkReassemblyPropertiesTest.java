package dev.flops.proto.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.proto.v1.Chunk;
import dev.flops.proto.v1.Manifest;
import dev.flops.proto.v1.TensorSpec;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.IntStream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * Properties of chunk reassembly over random parameters, chunk sizes and chunk sequences (jqwik).
 * Tries are bounded so that the whole class runs in a few seconds.
 */
class ChunkReassemblyPropertiesTest {

  @Property(tries = 300)
  @Label("the exact in-order chunk sequence reproduces every tensor bit for bit")
  void exactSequenceReproducesTheTensors(@ForAll("parameters") Parameters parameters,
      @ForAll("chunkSizes") int chunkSize) {
    EncodedParameters encoded = EncodedParameters.encode(parameters, chunkSize);
    ParameterDecoder decoder = new ParameterDecoder(encoded.manifest());
    for (int i = 0; i < encoded.chunks().size(); i++) {
      decoder.accept(encoded.chunk(i));
    }
    assertEquals(parameters, decoder.finish(false));
  }

  @Property(tries = 500)
  @Label("any permutation, duplication or drop of chunks other than the exact sequence is refused")
  void anyOtherSequenceIsRefused(@ForAll("severalChunks") EncodedParameters encoded,
      @ForAll("edits") List<Edit> edits) {
    int count = encoded.chunks().size();
    List<Integer> sequence = new ArrayList<>(IntStream.range(0, count).boxed().toList());
    edits.forEach(edit -> edit.apply(sequence, count));
    Assume.that(!sequence.equals(IntStream.range(0, count).boxed().toList()));

    ParameterDecoder decoder = new ParameterDecoder(encoded.manifest());
    WireFormatException refused = assertThrows(WireFormatException.class, () -> {
      for (int index : sequence) {
        decoder.accept(chunkAt(encoded, index));
      }
      decoder.finish(false);
    }, () -> "accepted chunks " + sequence + " of " + count);
    assertTrue(refused.getMessage().matches(
        "(expected chunk \\d+ but got chunk \\d+.*|chunk \\d+ is beyond .*|the stream ended after .*)"),
        refused.getMessage());
  }

  @Property(tries = 300)
  @Label("data cut at random sizes is accepted exactly when every chunk but the last is full")
  void randomCutsAreAcceptedOnlyAtTheManifestsChunkSize(
      @ForAll("parameters") Parameters parameters,
      @ForAll @IntRange(min = 1, max = 64) int chunkSize,
      @ForAll("cuts") List<Integer> cutSizes) {
    EncodedParameters encoded = EncodedParameters.encode(parameters, chunkSize);
    byte[] data = concatenated(encoded);
    Assume.that(data.length > 0);
    List<ByteString> chunks = new ArrayList<>();
    int offset = 0;
    for (int i = 0; offset < data.length; i++) {
      int size = Math.min(cutSizes.get(i % cutSizes.size()), data.length - offset);
      chunks.add(ByteString.copyFrom(data, offset, size));
      offset += size;
    }
    boolean full = IntStream.range(0, chunks.size() - 1)
        .allMatch(i -> chunks.get(i).size() == chunkSize)
        && chunks.get(chunks.size() - 1).size() <= chunkSize;

    ParameterDecoder decoder = new ParameterDecoder(encoded.manifest());
    Optional<Parameters> decoded;
    try {
      for (int i = 0; i < chunks.size(); i++) {
        decoder.accept(Chunk.newBuilder().setIndex(i).setData(chunks.get(i)).build());
      }
      decoded = Optional.of(decoder.finish(false));
    } catch (WireFormatException e) {
      assertTrue(e.getMessage().contains("bytes but must hold"), e.getMessage());
      decoded = Optional.empty();
    }
    assertEquals(full, decoded.isPresent(), () -> "cuts " + chunks.stream().map(ByteString::size)
        .toList() + " at chunk size " + chunkSize);
    decoded.ifPresent(p -> assertEquals(parameters, p));
  }

  @Property(tries = 500)
  @Label("any single changed byte is caught by the checksum")
  void anyChangedByteFailsTheChecksum(@ForAll("severalChunks") EncodedParameters encoded,
      @ForAll @IntRange(min = 0, max = Integer.MAX_VALUE) int position,
      @ForAll @IntRange(min = 1, max = 255) int xor) {
    int chunk = position % encoded.chunks().size();
    byte[] corrupted = encoded.chunks().get(chunk).toByteArray();
    corrupted[(position / encoded.chunks().size()) % corrupted.length] ^= (byte) xor;

    ParameterDecoder decoder = new ParameterDecoder(encoded.manifest());
    for (int i = 0; i < encoded.chunks().size(); i++) {
      decoder.accept(i == chunk
          ? Chunk.newBuilder().setIndex(i).setData(ByteString.copyFrom(corrupted)).build()
          : encoded.chunk(i));
    }
    WireFormatException e = assertThrows(WireFormatException.class, () -> decoder.finish(false));
    assertTrue(e.getMessage().startsWith("checksum mismatch"), e.getMessage());
  }

  @Property(tries = 300)
  @Label("a manifest describing parameters is well formed, matches them and survives the wire")
  void describedManifestsRoundTrip(@ForAll("parameters") Parameters parameters,
      @ForAll("chunkSizes") int chunkSize) throws InvalidProtocolBufferException {
    Manifest manifest = EncodedParameters.encode(parameters, chunkSize).manifest();
    Manifest received = Manifest.parseFrom(manifest.toByteArray());
    assertEquals(manifest, received);
    Manifests.checkWellFormed(received);
    assertEquals(Optional.empty(), Manifests.describeMismatch(received, parameters));
    assertEquals(parameters.byteSize(), received.getTotalBytes());
  }

  @Property(tries = 500)
  @Label("a random manifest round-trips, and is either well formed or refused as a wire error")
  void randomManifestsRoundTripAndAreJudgedCleanly(@ForAll("manifests") Manifest manifest)
      throws InvalidProtocolBufferException {
    assertEquals(manifest, Manifest.parseFrom(manifest.toByteArray()));
    try {
      Manifests.checkWellFormed(manifest);
    } catch (WireFormatException refused) {
      return; // a clear refusal; anything else (overflow, NPE) would fail the property
    }
    ParameterDecoder decoder;
    try {
      decoder = new ParameterDecoder(manifest);
    } catch (WireFormatException tooLarge) {
      assertTrue(tooLarge.getMessage().contains("one tensor may hold at most"),
          tooLarge.getMessage());
      return;
    }
    assertEquals(0, decoder.receivedBytes());
    assertEquals(manifest.getTotalBytes() == 0, decoder.isComplete());
  }

  // ---- generators ----

  private static final List<DType> DTYPES = List.of(DType.values());

  @Provide
  Arbitrary<Parameters> parameters() {
    Arbitrary<Tensor> tensor = Combinators.combine(
            Arbitraries.of(DTYPES),
            Arbitraries.longs().between(0, 6).list().ofMaxSize(3),
            Arbitraries.longs())
        .as((dtype, dims, seed) -> {
          long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
          long elements = dims.stream().reduce(1L, (a, b) -> a * b);
          byte[] bytes = new byte[(int) (elements * dtype.byteSize())];
          new java.util.Random(seed).nextBytes(bytes);
          return new Tensor("placeholder", dtype, shape, ByteBuffer.wrap(bytes));
        });
    return tensor.list().ofMaxSize(4).map(tensors -> {
      List<Tensor> named = new ArrayList<>();
      for (int i = 0; i < tensors.size(); i++) {
        Tensor t = tensors.get(i);
        named.add(new Tensor("layer" + i + "_W", t.dtype(), t.shape(), t.data()));
      }
      return new Parameters(named);
    });
  }

  /** Mostly small chunk sizes (many chunks), with the protocol's extremes as edge cases. */
  @Provide
  Arbitrary<Integer> chunkSizes() {
    return Arbitraries.frequencyOf(
        net.jqwik.api.Tuple.of(8, Arbitraries.integers().between(1, 64)),
        net.jqwik.api.Tuple.of(1, Arbitraries.integers().between(1, WireProtocol.MAX_CHUNK_BYTES)),
        net.jqwik.api.Tuple.of(1, Arbitraries.of(1, WireProtocol.MAX_CHUNK_BYTES)));
  }

  /** Parameters encoded in at least two chunks. */
  @Provide
  Arbitrary<EncodedParameters> severalChunks() {
    return Combinators.combine(parameters(), Arbitraries.integers().between(1, 32))
        .as(EncodedParameters::encode)
        .filter(encoded -> encoded.chunks().size() >= 2);
  }

  @Provide
  Arbitrary<List<Integer>> cuts() {
    return Arbitraries.integers().between(1, 80).list().ofMinSize(1).ofMaxSize(6);
  }

  /** One change to a chunk sequence. */
  record Edit(Kind kind, int at, int other) {
    enum Kind { SWAP, DUPLICATE, DROP, APPEND_BEYOND, REPLACE }

    void apply(List<Integer> sequence, int count) {
      if (sequence.isEmpty()) {
        sequence.add(count);
        return;
      }
      int i = Math.floorMod(at, sequence.size());
      int j = Math.floorMod(other, sequence.size());
      switch (kind) {
        case SWAP -> java.util.Collections.swap(sequence, i, j);
        case DUPLICATE -> sequence.add(j, sequence.get(i));
        case DROP -> sequence.remove(i);
        case APPEND_BEYOND -> sequence.add(count + Math.floorMod(other, 3));
        case REPLACE -> sequence.set(i, Math.floorMod(other, count + 2));
      }
    }
  }

  @Provide
  Arbitrary<List<Edit>> edits() {
    Arbitrary<Edit> edit = Combinators.combine(
            Arbitraries.of(Edit.Kind.class), Arbitraries.integers(), Arbitraries.integers())
        .as(Edit::new);
    return edit.list().ofMinSize(1).ofMaxSize(4);
  }

  /** Manifests as a hostile peer might write them: any names, dtype numbers, shapes and totals. */
  @Provide
  Arbitrary<Manifest> manifests() {
    Arbitrary<TensorSpec> spec = Combinators.combine(
            Arbitraries.strings().ofMaxLength(6),
            Arbitraries.integers().between(0, 6),
            Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(6, Arbitraries.longs().between(0, 9)),
                net.jqwik.api.Tuple.of(1, Arbitraries.longs()))
                .list().ofMaxSize(4))
        .as((name, dtype, shape) -> TensorSpec.newBuilder()
            .setName(name).setDtypeValue(dtype).addAllShape(shape).build());
    return Combinators.combine(
            spec.list().ofMaxSize(4),
            Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(3, Arbitraries.longs().between(0, 4000)),
                net.jqwik.api.Tuple.of(1, Arbitraries.longs())),
            Arbitraries.integers(),
            Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(3, Arbitraries.integers().between(1, 64)),
                net.jqwik.api.Tuple.of(1, Arbitraries.integers())))
        .as((specs, total, crc, chunkSize) -> Manifest.newBuilder().addAllTensors(specs)
            .setTotalBytes(total).setCrc32C(crc).setChunkSize(chunkSize).build());
  }

  // ---- helpers ----

  /** Chunk {@code index} of the encoding, or a full-size chunk of zeros past its end. */
  private static Chunk chunkAt(EncodedParameters encoded, int index) {
    if (index < encoded.chunks().size()) {
      return encoded.chunk(index);
    }
    return Chunk.newBuilder().setIndex(index)
        .setData(ByteString.copyFrom(new byte[encoded.manifest().getChunkSize()])).build();
  }

  private static byte[] concatenated(EncodedParameters encoded) {
    ByteString all = ByteString.EMPTY;
    for (ByteString chunk : encoded.chunks()) {
      all = all.concat(chunk);
    }
    return all.toByteArray();
  }
}
