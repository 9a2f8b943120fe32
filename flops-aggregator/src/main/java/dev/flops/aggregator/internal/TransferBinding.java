package dev.flops.aggregator.internal;

import dev.flops.proto.codec.WireFrame;
import dev.flops.proto.v1.DownloadRequest;
import dev.flops.proto.v1.FederationGrpc;
import dev.flops.proto.v1.ParameterMessage;
import dev.flops.proto.v1.UploadMessage;
import dev.flops.proto.v1.UploadReceipt;
import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;

/**
 * The service's methods as the aggregator serves them: the generated ones, except the two that
 * carry tensor data, whose messages go through {@link WireFrame#marshaller}:
 * <ul>
 *   <li>uploads: a chunk's data stays in the buffers netty received it in until the decoder
 *       copies it into the upload's slot (one copy per byte, no {@code byte[]} per chunk);
 *   <li>downloads: a chunk's data is written from the global model's tensors into gRPC's output
 *       buffers when the frame is serialised (one copy, no {@code byte[]} per chunk). The
 *       generated {@code downloadParameters} is not implemented by the service: only this
 *       binding serves downloads.
 * </ul>
 *
 * <p>The frames' lifetime rule holds because the upload handler decodes each chunk inside
 * {@code onNext}, on the gRPC thread that delivered it, and keeps only the message (whose chunk
 * data field is empty).
 */
final class TransferBinding {
  private TransferBinding() {}

  /**
   * Returns the service's definition with the upload method parsing frames.
   *
   * @param service the service
   * @return the definition to register
   */
  static ServerServiceDefinition bind(FederationService service) {
    ServerServiceDefinition generated = service.bindService();
    MethodDescriptor<UploadMessage, UploadReceipt> upload = FederationGrpc.getUploadUpdateMethod();
    MethodDescriptor<WireFrame<UploadMessage>, UploadReceipt> frames = upload.toBuilder(
            WireFrame.marshaller(UploadMessage.getDefaultInstance(),
                UploadMessage.CHUNK_FIELD_NUMBER),
            upload.getResponseMarshaller())
        .build();
    MethodDescriptor<DownloadRequest, ParameterMessage> download =
        FederationGrpc.getDownloadParametersMethod();
    MethodDescriptor<DownloadRequest, WireFrame<ParameterMessage>> downloadFrames =
        download.toBuilder(download.getRequestMarshaller(),
                WireFrame.marshaller(ParameterMessage.getDefaultInstance(),
                    ParameterMessage.CHUNK_FIELD_NUMBER))
            .build();
    ServerServiceDefinition.Builder bound =
        ServerServiceDefinition.builder(generated.getServiceDescriptor().getName());
    for (ServerMethodDefinition<?, ?> method : generated.getMethods()) {
      String name = method.getMethodDescriptor().getFullMethodName();
      if (name.equals(upload.getFullMethodName())) {
        bound.addMethod(frames, ServerCalls.asyncClientStreamingCall(service::uploadFrames));
      } else if (name.equals(download.getFullMethodName())) {
        bound.addMethod(downloadFrames,
            ServerCalls.asyncServerStreamingCall(service::downloadFrames));
      } else {
        bound.addMethod(method);
      }
    }
    return bound.build();
  }

  /**
   * Adapts an observer of frames to one of whole messages (for callers that hold parsed
   * messages, such as the generated stub's handler).
   *
   * @param frames the observer of frames
   * @return an observer that wraps each message in a frame
   */
  static StreamObserver<UploadMessage> framesOf(StreamObserver<WireFrame<UploadMessage>> frames) {
    return new StreamObserver<>() {
      @Override
      public void onNext(UploadMessage message) {
        frames.onNext(WireFrame.of(message, UploadMessage.CHUNK_FIELD_NUMBER));
      }

      @Override
      public void onError(Throwable t) {
        frames.onError(t);
      }

      @Override
      public void onCompleted() {
        frames.onCompleted();
      }
    };
  }
}
