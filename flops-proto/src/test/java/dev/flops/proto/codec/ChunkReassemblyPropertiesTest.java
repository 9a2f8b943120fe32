package dev.flops.proto.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.proto.v1.Chunk;
import dev.flops.proto.v1.Manifest;
import dev.flops.proto.v1.TensorSpec;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * Properties of chunk reassembly over random parameters, chunk sizes and chunk sequences. Each
 * property checks a fixed number of generated cases through {@link Properties#forAll}; a failure
 * prints the seed that replays its case. Tries are bounded so that the whole class runs in a few
 * seconds. (Plain JUnit rather than jqwik, whose author asks that AI agents not use it.)
 */
class ChunkReassemblyPropertiesTest {

  @Test
  void exactSequenceReproducesTheTensors() {
    Properties.forAll("the exact in-order chunk sequence reproduces every tensor bit for bit",
        300, 0x5eed_0001L, random -> {
          Parameters parameters = parameters(random);
          int chunkSize = chunkSize(random);
          EncodedParameters encoded = EncodedParameters.encode(parameters, chunkSize);
          ParameterDecoder decoder = new ParameterDecoder(encoded.manifest());
          for (int i = 0; i < encoded.chunks().size(); i++) {
            decoder.accept(encoded.chunk(i));
          }
          assertEquals(parameters, decoder.finish(false), () -> "at chunk size " + chunkSize);
        });
  }

  @Test
  void anyOtherSequenceIsRefused() {
    Properties.forAll(
        "any permutation, duplication, drop, replacement or extra chunk other than the exact "
            + "sequence is refused", 500, 0x5eed_0002L, random -> {
          EncodedParameters encoded = severalChunks(random);
          int count = encoded.chunks().size();
          List<Integer> exact = IntStream.range(0, count).boxed().toList();
          List<Integer> sequence = Properties.generate(() -> {
            List<Integer> edited = new ArrayList<>(exact);
            edits(random).forEach(edit -> edit.apply(edited, count));
            return edited;
          }, edited -> !edited.equals(exact), "edited chunk sequences");

          ParameterDecoder decoder = new ParameterDecoder(encoded.manifest());
          WireFormatException refused = assertThrows(WireFormatException.class, () -> {
            for (int index : sequence) {
              decoder.accept(chunkAt(encoded, index));
            }
            decoder.finish(false);
          }, () -> "accepted chunks " + sequence + " of " + count);
          assertEquals(WireError.MALFORMED_MESSAGE, refused.code(), refused::getMessage);
          assertTrue(refused.getMessage().matches("(expected chunk \\d+ but got chunk \\d+.*"
                  + "|chunk \\d+ is beyond .*|the stream ended after .*)"),
              refused.getMessage());
        });
  }

  @Test
  void randomCutsAreAcceptedOnlyAtTheManifestsChunkSize() {
    int[] outcomes = new int[2]; // refused, accepted
    Properties.forAll(
        "data cut at random sizes is accepted exactly when every chunk but the last is full",
        300, 0x5eed_0003L, random -> {
          Parameters parameters = Properties.generate(() -> parameters(random),
              p -> p.byteSize() > 0, "parameters holding data");
          int chunkSize = 1 + random.nextInt(64);
          List<Integer> cutSizes = cuts(random, chunkSize);
          EncodedParameters encoded = EncodedParameters.encode(parameters, chunkSize);
          byte[] data = concatenated(encoded);
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
            assertEquals(WireError.MALFORMED_MESSAGE, e.code(), e::getMessage);
            assertTrue(e.getMessage().contains("bytes but must hold"), e.getMessage());
            decoded = Optional.empty();
          }
          assertEquals(full, decoded.isPresent(), () -> "cuts "
              + chunks.stream().map(ByteString::size).toList() + " at chunk size " + chunkSize);
          decoded.ifPresent(p -> assertEquals(parameters, p));
          outcomes[decoded.isPresent() ? 1 : 0]++;
        });
    if (!Properties.replaying()) {
      assertTrue(outcomes[0] > 0 && outcomes[1] > 0,
          "the cuts must yield both refused and accepted streams, but gave (refused, accepted) "
              + List.of(outcomes[0], outcomes[1]));
    }
  }

  @Test
  void anyChangedByteFailsTheChecksum() {
    Properties.forAll("any single changed byte is caught by the checksum", 500, 0x5eed_0004L,
        random -> {
          EncodedParameters encoded = severalChunks(random);
          int position = random.nextInt() & Integer.MAX_VALUE;
          int xor = 1 + random.nextInt(255);
          int chunk = position % encoded.chunks().size();
          byte[] corrupted = encoded.chunks().get(chunk).toByteArray();
          corrupted[(position / encoded.chunks().size()) % corrupted.length] ^= (byte) xor;

          ParameterDecoder decoder = new ParameterDecoder(encoded.manifest());
          for (int i = 0; i < encoded.chunks().size(); i++) {
            decoder.accept(i == chunk
                ? Chunk.newBuilder().setIndex(i).setData(ByteString.copyFrom(corrupted)).build()
                : encoded.chunk(i));
          }
          WireFormatException e =
              assertThrows(WireFormatException.class, () -> decoder.finish(false));
          assertEquals(WireError.CHECKSUM, e.code(), e::getMessage);
          assertTrue(e.getMessage().startsWith("checksum mismatch"), e.getMessage());
        });
  }

  @Test
  void describedManifestsRoundTrip() {
    Properties.forAll(
        "a manifest describing parameters is well formed, matches them and survives the wire",
        300, 0x5eed_0005L, random -> {
          Parameters parameters = parameters(random);
          Manifest manifest = EncodedParameters.encode(parameters, chunkSize(random)).manifest();
          Manifest received = Manifest.parseFrom(manifest.toByteArray());
          assertEquals(manifest, received);
          Manifests.checkWellFormed(received);
          assertEquals(Optional.empty(), Manifests.describeMismatch(received, parameters));
          assertEquals(parameters.byteSize(), received.getTotalBytes());
        });
  }

  @Test
  void randomManifestsRoundTripAndAreJudgedCleanly() {
    int[] outcomes = new int[3]; // malformed, too large, decodable
    Properties.forAll(
        "a random manifest round-trips, and is either well formed or refused as a wire error",
        500, 0x5eed_0006L, random -> {
          Manifest manifest = hostileManifest(random);
          assertEquals(manifest, Manifest.parseFrom(manifest.toByteArray()));
          try {
            Manifests.checkWellFormed(manifest);
          } catch (WireFormatException refused) {
            outcomes[0]++;
            return; // a clear refusal; anything else (overflow, NPE) fails the property
          }
          ParameterDecoder decoder;
          try {
            decoder = new ParameterDecoder(manifest);
          } catch (WireFormatException tooLarge) {
            assertTrue(tooLarge.getMessage().contains("one tensor may hold at most"),
                tooLarge.getMessage());
            outcomes[1]++;
            return;
          }
          assertEquals(0, decoder.receivedBytes());
          assertEquals(manifest.getTotalBytes() == 0, decoder.isComplete());
          outcomes[2]++;
        });
    if (!Properties.replaying()) {
      assertTrue(IntStream.of(outcomes).allMatch(n -> n > 0),
          "the manifests must be malformed, too large and decodable in turn, but gave "
              + List.of(outcomes[0], outcomes[1], outcomes[2]));
    }
  }

  // ---- generators ----

  private static final DType[] DTYPES = DType.values();

  /** Up to four tensors of any dtype, up to three dimensions of 0 to 6, random bytes. */
  private static Parameters parameters(SplittableRandom random) {
    int count = random.nextInt(5);
    List<Tensor> tensors = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      DType dtype = DTYPES[random.nextInt(DTYPES.length)];
      long[] shape = random.longs(random.nextInt(4), 0, 7).toArray();
      long elements = 1;
      for (long dim : shape) {
        elements *= dim;
      }
      byte[] bytes = new byte[(int) (elements * dtype.byteSize())];
      random.nextBytes(bytes);
      tensors.add(new Tensor("layer" + i + "_W", dtype, shape, ByteBuffer.wrap(bytes)));
    }
    return new Parameters(tensors);
  }

  /**
   * Mostly small chunk sizes (many chunks), one time in ten any size up to 4 MiB and one time in
   * ten one of the protocol's extremes.
   */
  private static int chunkSize(SplittableRandom random) {
    return switch (random.nextInt(10)) {
      case 0 -> 1 + random.nextInt(WireProtocol.MAX_CHUNK_BYTES);
      case 1 -> random.nextBoolean() ? 1 : WireProtocol.MAX_CHUNK_BYTES;
      default -> 1 + random.nextInt(64);
    };
  }

  /** Parameters encoded in at least two chunks. */
  private static EncodedParameters severalChunks(SplittableRandom random) {
    return Properties.generate(
        () -> EncodedParameters.encode(parameters(random), 1 + random.nextInt(32)),
        encoded -> encoded.chunks().size() >= 2, "encodings in several chunks");
  }

  /**
   * One to six cut sizes from 1 to 80; one time in four they are all the chunk size, and one time
   * in four all but one, so that accepted streams and near misses are common.
   */
  private static List<Integer> cuts(SplittableRandom random, int chunkSize) {
    int count = 1 + random.nextInt(6);
    List<Integer> cuts = new ArrayList<>(count);
    int mode = random.nextInt(4);
    for (int i = 0; i < count; i++) {
      cuts.add(mode == 0 || mode == 1 ? chunkSize : 1 + random.nextInt(80));
    }
    if (mode == 1) {
      cuts.set(random.nextInt(count), 1 + random.nextInt(80));
    }
    return cuts;
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
        case SWAP -> Collections.swap(sequence, i, j);
        case DUPLICATE -> sequence.add(j, sequence.get(i));
        case DROP -> sequence.remove(i);
        case APPEND_BEYOND -> sequence.add(count + Math.floorMod(other, 3));
        case REPLACE -> sequence.set(i, Math.floorMod(other, count + 2));
      }
    }
  }

  /** One to four edits of any kind at any positions. */
  private static List<Edit> edits(SplittableRandom random) {
    Edit.Kind[] kinds = Edit.Kind.values();
    return IntStream.range(0, 1 + random.nextInt(4))
        .mapToObj(i -> new Edit(kinds[random.nextInt(kinds.length)],
            Properties.anyInt(random), Properties.anyInt(random)))
        .toList();
  }

  /**
   * A manifest as a hostile peer might write it: any names (blank and repeated ones included), any
   * dtype numbers, any dimensions (tensors too large to decode included), and a total that is
   * small, any long, or what the specs need. Each field is often sane, so that whole manifests are
   * often well formed and the decoder gets to judge them too.
   */
  private static Manifest hostileManifest(SplittableRandom random) {
    List<TensorSpec> specs = new ArrayList<>();
    for (int t = random.nextInt(5); t > 0; t--) {
      TensorSpec.Builder spec = TensorSpec.newBuilder()
          .setName(random.nextBoolean() ? "t" + t : hostileName(random))
          .setDtypeValue(switch (random.nextInt(8)) {
            case 0 -> Properties.anyInt(random);
            case 1 -> random.nextInt(7);
            default -> 1 + random.nextInt(4);
          });
      for (int d = random.nextInt(5); d > 0; d--) {
        spec.addShape(switch (random.nextInt(10)) {
          case 0 -> Properties.anyLong(random);
          // more than 2 GiB at any dtype, unless another dimension is 0: never allocated
          case 1 -> random.nextLong((1L << 29) + 1, 1L << 40);
          default -> random.nextLong(10);
        });
      }
      specs.add(spec.build());
    }
    long total = switch (random.nextInt(4)) {
      case 0 -> Properties.anyLong(random);
      case 1 -> random.nextLong(4001);
      default -> bytesNeeded(specs);
    };
    int chunkSize = switch (random.nextInt(5)) {
      case 0 -> Properties.anyInt(random);
      case 1 -> new int[] {0, 1, WireProtocol.MAX_CHUNK_BYTES, WireProtocol.MAX_CHUNK_BYTES + 1}
          [random.nextInt(4)];
      default -> 1 + random.nextInt(64);
    };
    return Manifest.newBuilder().addAllTensors(specs).setTotalBytes(total)
        .setCrc32C(Properties.anyInt(random)).setChunkSize(chunkSize).build();
  }

  /** A name of up to six code points from ASCII, the whole BMP and beyond, or a common one. */
  private static String hostileName(SplittableRandom random) {
    if (random.nextInt(4) == 0) {
      String[] common = {"", " ", "a", "layer0_W"};
      return common[random.nextInt(common.length)];
    }
    StringBuilder name = new StringBuilder();
    for (int n = random.nextInt(7); n > 0; n--) {
      int codePoint = switch (random.nextInt(4)) {
        case 0 -> random.nextInt(Character.MIN_SURROGATE);
        case 1 -> random.nextInt(Character.MAX_SURROGATE + 1, Character.MAX_VALUE + 1);
        case 2 -> random.nextInt(Character.MIN_SUPPLEMENTARY_CODE_POINT,
            Character.MAX_CODE_POINT + 1);
        default -> random.nextInt(0x20, 0x7f);
      };
      name.appendCodePoint(codePoint);
    }
    return name.toString();
  }

  /** The bytes the specs need, in wrapping arithmetic: exact whenever the manifest is sane. */
  private static long bytesNeeded(List<TensorSpec> specs) {
    long total = 0;
    for (TensorSpec spec : specs) {
      long bytes = spec.getDtypeValue() == 2 || spec.getDtypeValue() == 4 ? 8 : 4;
      for (long dim : spec.getShapeList()) {
        bytes *= dim;
      }
      total += bytes;
    }
    return total;
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
