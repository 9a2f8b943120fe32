package dev.flops.aggregator.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.proto.codec.EncodedParameters;
import dev.flops.proto.codec.ParameterDecoder;
import dev.flops.proto.codec.WireFrame;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.v1.FederationGrpc;
import dev.flops.proto.v1.UploadHeader;
import dev.flops.proto.v1.UploadMessage;
import dev.flops.proto.v1.UploadReceipt;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The upload method as the aggregator registers it ({@link TransferBinding}), over real gRPC and
 * netty on loopback: each chunk reaches the handler still in netty's direct receive buffers, not
 * copied into a {@code byte[]}, and decodes to exactly what was sent.
 */
class TransferBindingTest {

  @Test
  void uploadChunksArriveInNettysDirectBuffersAndDecodeExactly() throws Exception {
    float[] values = new float[3 * 1024 * 1024 / 4 + 17]; // three chunks and a bit
    Random random = new Random(11);
    for (int i = 0; i < values.length; i++) {
      values[i] = random.nextFloat();
    }
    Parameters sent = Parameters.of(Tensor.ofFloats("w", new long[] {values.length}, values));
    EncodedParameters encoded = EncodedParameters.encode(sent, WireProtocol.DEFAULT_CHUNK_BYTES);

    @SuppressWarnings("unchecked")
    MethodDescriptor<WireFrame<UploadMessage>, UploadReceipt> method =
        (MethodDescriptor<WireFrame<UploadMessage>, UploadReceipt>) TransferBinding
            .bind(new FederationService(2))
            .getMethod(FederationGrpc.getUploadUpdateMethod().getFullMethodName())
            .getMethodDescriptor();
    List<String> views = new ArrayList<>();
    CompletableFuture<Parameters> received = new CompletableFuture<>();
    ServerServiceDefinition recording = ServerServiceDefinition.builder(
            FederationGrpc.SERVICE_NAME)
        .addMethod(method, ServerCalls.asyncClientStreamingCall(
            response -> new Recorder(response, views, received)))
        .build();
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(recording)
        .maxInboundMessageSize(WireProtocol.MAX_MESSAGE_BYTES)
        .build()
        .start();
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort())
        .usePlaintext()
        .build();
    try {
      CompletableFuture<UploadReceipt> receipt = new CompletableFuture<>();
      StreamObserver<UploadMessage> upload = FederationGrpc.newStub(channel)
          .uploadUpdate(new StreamObserver<>() {
            @Override
            public void onNext(UploadReceipt value) {
              receipt.complete(value);
            }

            @Override
            public void onError(Throwable t) {
              receipt.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {}
          });
      upload.onNext(UploadMessage.newBuilder().setEnvelope(WireProtocol.envelope(1))
          .setHeader(UploadHeader.newBuilder().setManifest(encoded.manifest())).build());
      for (int i = 0; i < encoded.chunks().size(); i++) {
        upload.onNext(UploadMessage.newBuilder().setEnvelope(WireProtocol.envelope(1))
            .setChunk(encoded.chunk(i)).build());
      }
      upload.onCompleted();
      receipt.get(30, TimeUnit.SECONDS);
      assertEquals(sent, received.get(30, TimeUnit.SECONDS));
      assertEquals(encoded.chunks().size(), views.size());
      for (String view : views) {
        assertEquals("true/true", view,
            "each chunk's data is left out of the message and read from netty's direct buffers");
      }
      assertTrue(views.size() >= 4);
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  /** Decodes the frames as the aggregator does and notes how each chunk's data arrived. */
  private static final class Recorder implements StreamObserver<WireFrame<UploadMessage>> {
    private final StreamObserver<UploadReceipt> response;
    private final List<String> views;
    private final CompletableFuture<Parameters> received;
    private ParameterDecoder decoder;

    Recorder(StreamObserver<UploadReceipt> response, List<String> views,
        CompletableFuture<Parameters> received) {
      this.response = response;
      this.views = views;
      this.received = received;
    }

    @Override
    public void onNext(WireFrame<UploadMessage> frame) {
      if (frame.message().hasHeader()) {
        decoder = new ParameterDecoder(frame.message().getHeader().getManifest());
        return;
      }
      // Direct but for the few bytes of a run of small receive buffers, which gRPC coalesces
      // into a byte[] and WireFrame copies.
      long heapBytes = frame.chunkData().stream().filter(data -> !data.isDirect())
          .mapToLong(ByteBuffer::remaining).sum();
      views.add(frame.message().getChunk().getData().isEmpty() + "/" + (heapBytes < 64 * 1024));
      decoder.accept(frame.message().getChunk().getIndex(), frame.chunkData());
    }

    @Override
    public void onError(Throwable t) {
      received.completeExceptionally(t);
    }

    @Override
    public void onCompleted() {
      received.complete(decoder.finish(true));
      response.onNext(UploadReceipt.getDefaultInstance());
      response.onCompleted();
    }
  }
}
