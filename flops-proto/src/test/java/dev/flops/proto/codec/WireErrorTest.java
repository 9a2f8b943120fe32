package dev.flops.proto.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.InternalMetadata;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class WireErrorTest {

  @Test
  void everyCode_hasOneStatusThatIsAnError_andItsExceptionCarriesBoth() {
    for (WireError code : WireError.values()) {
      assertNotEquals(Status.Code.OK, code.statusCode(), code.name());
      StatusRuntimeException refusal = code.exception("what went wrong");
      assertEquals(code.statusCode(), refusal.getStatus().getCode(), code.name());
      assertEquals("what went wrong", refusal.getStatus().getDescription());
      assertEquals(Optional.of(code), WireError.of(refusal), code.name());
      assertEquals(code.statusCode(), code.status("x").getCode(), code.name());
    }
  }

  @Test
  void everyCode_survivesTheWireEncodingOfTrailers() {
    for (WireError code : WireError.values()) {
      // What the transport does to trailers: serialize to header bytes and parse them back.
      byte[][] serialized = InternalMetadata.serialize(code.trailers());
      Metadata received = InternalMetadata.newMetadata(serialized);
      assertEquals(Optional.of(code), WireError.of(received), code.name());
      assertEquals(code.name(), received.get(WireError.TRAILER_KEY));
    }
  }

  @Test
  void noCode_orAnUnknownOne_readsAsNone() {
    assertEquals(Optional.empty(), WireError.of((Throwable) null));
    assertEquals(Optional.empty(), WireError.of(Status.INTERNAL.asRuntimeException()));
    assertEquals(Optional.empty(), WireError.of(new IllegalStateException("not a call")));
    Metadata newer = new Metadata();
    newer.put(WireError.TRAILER_KEY, "A_CODE_FROM_A_LATER_RELEASE");
    assertEquals(Optional.empty(), WireError.of(newer));
    // The code of a status exception that a later layer wrapped is still found.
    assertEquals(Optional.of(WireError.BUSY),
        WireError.of(new RuntimeException(WireError.BUSY.exception("busy"))));
  }

  @Test
  void onlyRefusalsAboutTheMoment_areRetryable() {
    Set<WireError> retryable = EnumSet.noneOf(WireError.class);
    for (WireError code : WireError.values()) {
      if (code.retryable()) {
        retryable.add(code);
      }
    }
    assertEquals(EnumSet.of(WireError.BUSY, WireError.SILENT_CALL, WireError.REPLACED), retryable);
    assertFalse(WireError.AGGREGATOR_FAULT.retryable(), "a bug is not retried into a time-out");
    assertEquals(Status.Code.INTERNAL, WireError.AGGREGATOR_FAULT.statusCode());
  }

  @Test
  void wireFormatException_carriesItsCode_intoTheRefusal() {
    WireFormatException e = new WireFormatException(WireError.CHECKSUM, "checksum mismatch");
    StatusRuntimeException refusal = e.toStatusException();
    assertEquals(Status.Code.INVALID_ARGUMENT, refusal.getStatus().getCode());
    assertEquals("checksum mismatch", refusal.getStatus().getDescription());
    assertEquals(Optional.of(WireError.CHECKSUM), WireError.of(refusal));
  }

  @Test
  void wrongProtocolVersion_isCodedAsSuch_notRecognisedByItsText() {
    WireFormatException e = org.junit.jupiter.api.Assertions.assertThrows(
        WireFormatException.class, () -> WireProtocol.checkVersion(
            dev.flops.proto.v1.Envelope.newBuilder().setProtocolVersion(99).build()));
    assertEquals(WireError.PROTOCOL_VERSION, e.code());
    assertEquals(Status.Code.FAILED_PRECONDITION, e.toStatusException().getStatus().getCode());
    assertTrue(e.getMessage().contains("v99"), e.getMessage());
  }
}
