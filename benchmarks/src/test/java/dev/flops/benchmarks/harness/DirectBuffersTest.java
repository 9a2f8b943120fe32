package dev.flops.benchmarks.harness;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DirectBuffersTest {

  @Test
  void snapshot_countsALiveDirectBuffer_andReadsGrpcsNettyAllocator() throws Exception {
    DirectBuffers.startSampling();
    ByteBuffer held = ByteBuffer.allocateDirect(16 << 20);
    Thread.sleep(100); // the sampler reads every 10 ms
    Map<String, Object> fields = DirectBuffers.snapshot();

    assertTrue((double) fields.get("direct_mb") >= 16.0, fields.toString());
    assertTrue((double) fields.get("direct_peak_mb") >= 16.0, fields.toString());
    assertTrue((long) fields.get("direct_buffers") >= 1, fields.toString());
    // gRPC's netty allocator is on the harness's classpath: a gRPC that moved it would drop the
    // field, which this test notices.
    assertTrue(fields.containsKey("netty_mb"), fields.toString());
    assertEquals(16 << 20, held.capacity());
  }
}
