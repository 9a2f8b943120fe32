package dev.flops.proto.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.proto.v1.InlineTensors;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The inline form: one message, decoded through the same checks as a streamed transfer. */
class InlineParametersTest {
  private static Parameters parameters(int values) {
    Random random = new Random(values);
    float[] w = new float[values];
    for (int i = 0; i < values; i++) {
      w[i] = (float) random.nextGaussian();
    }
    return Parameters.of(Tensor.ofFloats("w", new long[] {values}, w),
        Tensor.ofFloats("b", new long[] {1}, new float[] {7}));
  }

  @Test
  void roundTrip_acrossSeveralChunks() {
    // 1,001 floats in chunks of 300 bytes: the decoder is fed 14 chunks, the last short.
    Parameters original = parameters(1000);
    InlineTensors inline = InlineParameters.encode(EncodedParameters.encode(original, 300));
    assertEquals(4004, inline.getData().size());
    assertEquals(original, InlineParameters.decode(inline.getManifest(), inline.getData(),
        ParameterDecoder.HEAP));
  }

  @Test
  void dataOfAnotherSizeThanTheManifest_isMalformed() {
    InlineTensors inline = InlineParameters.encode(EncodedParameters.encode(parameters(10)));
    WireFormatException e = assertThrows(WireFormatException.class,
        () -> InlineParameters.decode(inline.getManifest(),
            inline.getData().concat(ByteString.copyFrom(new byte[4])), ParameterDecoder.HEAP));
    assertEquals(WireError.MALFORMED_MESSAGE, e.code());
    assertTrue(e.getMessage().contains("holds 48 bytes but its manifest announces 44"),
        e::getMessage);
  }

  @Test
  void flippedBit_failsTheChecksum_andNaN_failsTheFiniteScan() {
    InlineTensors inline = InlineParameters.encode(EncodedParameters.encode(parameters(10)));
    byte[] flipped = inline.getData().toByteArray();
    flipped[3] ^= 0x10;
    assertEquals(WireError.CHECKSUM, assertThrows(WireFormatException.class,
        () -> InlineParameters.decode(inline.getManifest(), ByteString.copyFrom(flipped),
            ParameterDecoder.HEAP)).code());

    float[] nan = new float[10];
    nan[4] = Float.NaN;
    InlineTensors withNan = InlineParameters.encode(EncodedParameters.encode(
        Parameters.of(Tensor.ofFloats("w", new long[] {10}, nan))));
    assertEquals(WireError.NON_FINITE, assertThrows(WireFormatException.class,
        () -> InlineParameters.decode(withNan.getManifest(), withNan.getData(),
            ParameterDecoder.HEAP)).code());
  }

  @Test
  void parametersAboveOneChunk_cannotGoInline() {
    EncodedParameters big = EncodedParameters.encode(Parameters.of(
        Tensor.ofFloats("w", new long[] {InlineParameters.MAX_INLINE_BYTES / 4 + 1},
            new float[InlineParameters.MAX_INLINE_BYTES / 4 + 1])));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> InlineParameters.encode(big));
    assertTrue(e.getMessage().contains("at most 4194304 bytes can"), e::getMessage);
  }
}
