package dev.flops.aggregator;

import dev.flops.proto.v1.FederationGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.MethodDescriptor;
import java.util.function.Consumer;

/** Learner-side interceptors that break an upload at a chosen point, for fault tests. */
final class UploadFaults {
  private UploadFaults() {}

  /**
   * Runs {@code fault} on every upload call once it has sent {@code messages} messages (the
   * header, then chunks); other calls pass untouched.
   */
  static ClientInterceptor afterMessages(int messages, Consumer<ClientCall<?, ?>> fault) {
    return new ClientInterceptor() {
      @Override
      public <Q, A> ClientCall<Q, A> interceptCall(
          MethodDescriptor<Q, A> method, CallOptions options, Channel next) {
        ClientCall<Q, A> call = next.newCall(method, options);
        if (!method.getFullMethodName()
            .equals(FederationGrpc.getUploadUpdateMethod().getFullMethodName())) {
          return call;
        }
        return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
          private int sent;

          @Override
          public void sendMessage(Q message) {
            super.sendMessage(message);
            if (++sent == messages) {
              fault.accept(this);
            }
          }
        };
      }
    };
  }
}
