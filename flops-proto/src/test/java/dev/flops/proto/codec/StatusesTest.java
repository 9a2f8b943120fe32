package dev.flops.proto.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.Status;
import java.io.IOException;
import java.net.ConnectException;
import org.junit.jupiter.api.Test;

class StatusesTest {

  @Test
  void oneLine_rootCauseOnTheLine_lineBreaksBecomeSpaces() {
    Status status = Status.UNAVAILABLE.withDescription("io exception\nChannel Pipeline: [A, B]")
        .withCause(new IOException("wrapped", new ConnectException("Connection refused")));
    assertEquals("UNAVAILABLE: io exception Channel Pipeline: [A, B] (ConnectException: "
        + "Connection refused)", Statuses.oneLine(status));
  }
}
