package dev.flops.aggregator.internal;

import io.grpc.ServerCredentials;
import io.grpc.internal.ObjectPool;
import io.grpc.netty.shaded.io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.shaded.io.grpc.netty.InternalNettyServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.InternalProtocolNegotiator;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandler;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.ChannelInboundHandlerAdapter;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslHandler;
import io.grpc.netty.shaded.io.netty.util.AsciiString;
import java.util.concurrent.Executor;

/**
 * Wraps the server's TLS credentials so that every refused or broken TLS handshake reaches
 * {@link HandshakeRefusals} with the peer's address. gRPC offers no public hook for handshake
 * failures; this uses its Netty negotiator API (the {@code Internal*} classes of grpc-netty,
 * pinned with gRPC's version): a pass-through handler placed after gRPC's TLS handler sees the
 * handshake's failure, which that handler passes on as an exception before the connection
 * closes. Nothing else in the pipeline changes.
 */
public final class HandshakeObserver {
  private HandshakeObserver() {}

  /**
   * Returns credentials that behave like {@code tls} and report refused handshakes.
   *
   * @param tls the server's TLS credentials
   * @param refusals where refused handshakes are reported
   * @return the observing credentials
   */
  public static ServerCredentials observe(ServerCredentials tls, HandshakeRefusals refusals) {
    InternalProtocolNegotiator.ServerFactory factory =
        InternalNettyServerCredentials.toNegotiator(tls);
    return InternalNettyServerCredentials.create(new InternalProtocolNegotiator.ServerFactory() {
      @Override
      public InternalProtocolNegotiator.ProtocolNegotiator newNegotiator(
          ObjectPool<? extends Executor> offloadExecutorPool) {
        return observing(factory.newNegotiator(offloadExecutorPool), refusals);
      }
    });
  }

  private static InternalProtocolNegotiator.ProtocolNegotiator observing(
      InternalProtocolNegotiator.ProtocolNegotiator negotiator, HandshakeRefusals refusals) {
    return new InternalProtocolNegotiator.ProtocolNegotiator() {
      @Override
      public AsciiString scheme() {
        return negotiator.scheme();
      }

      @Override
      public ChannelHandler newHandler(GrpcHttp2ConnectionHandler grpcHandler) {
        return new Observer(negotiator.newHandler(grpcHandler), refusals);
      }

      @Override
      public void close() {
        negotiator.close();
      }
    };
  }

  /** Puts gRPC's negotiation handler before itself, then watches what it passes on. */
  private static final class Observer extends ChannelInboundHandlerAdapter {
    private final ChannelHandler negotiation;
    private final HandshakeRefusals refusals;
    private boolean reported;

    Observer(ChannelHandler negotiation, HandshakeRefusals refusals) {
      this.negotiation = negotiation;
      this.refusals = refusals;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      ctx.pipeline().addBefore(ctx.name(), null, negotiation);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      SslHandler ssl = ctx.pipeline().get(SslHandler.class);
      if (!reported && ssl != null && !ssl.handshakeFuture().isSuccess()) {
        reported = true; // one failure shows up as several exceptions: report the connection once
        refusals.refused(ctx.channel().remoteAddress(), cause);
      }
      ctx.fireExceptionCaught(cause);
    }
  }
}
