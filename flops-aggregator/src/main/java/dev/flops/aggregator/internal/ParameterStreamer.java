package dev.flops.aggregator.internal;

import dev.flops.proto.codec.EncodedParameters;
import dev.flops.proto.codec.WireError;
import dev.flops.proto.codec.WireFrame;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.v1.Chunk;
import dev.flops.proto.v1.ParameterMessage;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams encoded parameters (manifest, then chunks) to one learner, only as fast as gRPC flow
 * control lets it, so that a slow learner never makes the aggregator buffer a copy of the model,
 * and only once it holds a download slot, so that the chunks queued at once stay bounded however
 * many learners download.
 */
final class ParameterStreamer implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(ParameterStreamer.class);
  private static final int CHUNK_FIELD = ParameterMessage.CHUNK_FIELD_NUMBER;

  private final ServerCallStreamObserver<WireFrame<ParameterMessage>> out;
  private final DownloadSource source;
  private final EncodedParameters parameters;
  private final long round;
  private final AtomicLong bytesSent;
  private final Function<OutOfMemoryError, String> outOfMemory;
  private int next = -1;
  private boolean done;
  private boolean granted;
  private TransferSlots.Request slot;
  private boolean releaseWhenAttached;

  private ParameterStreamer(
      ServerCallStreamObserver<WireFrame<ParameterMessage>> out, DownloadSource source, long round,
      AtomicLong bytesSent, Function<OutOfMemoryError, String> outOfMemory) {
    this.out = out;
    this.outOfMemory = outOfMemory;
    this.source = source;
    this.parameters = source.encoded();
    this.round = round;
    this.bytesSent = bytesSent;
  }

  /**
   * Streams once a download slot is free; adds the size of every message sent to
   * {@code bytesSent}. If a message cannot be allocated, the download ends with
   * {@code RESOURCE_EXHAUSTED} (code OUT_OF_MEMORY) and the text {@code outOfMemory} returns (it
   * also fails the task), and its slot is given back.
   */
  static void start(ServerCallStreamObserver<WireFrame<ParameterMessage>> out,
      DownloadSource parameters, long round, AtomicLong bytesSent, TransferSlots slots,
      Function<OutOfMemoryError, String> outOfMemory) {
    ParameterStreamer streamer =
        new ParameterStreamer(out, parameters, round, bytesSent, outOfMemory);
    out.setOnCancelHandler(streamer::cancel);
    out.setOnReadyHandler(streamer);
    streamer.attach(slots.acquire(granted -> streamer.grant()));
    streamer.run();
  }

  private void grant() {
    synchronized (this) {
      granted = true;
    }
    run();
  }

  private synchronized void attach(TransferSlots.Request request) {
    slot = request;
    if (releaseWhenAttached) {
      request.close();
    }
  }

  /** Gives the slot back (or withdraws the request) once the stream has ended. */
  private void release() {
    if (slot != null) {
      slot.close();
    } else {
      releaseWhenAttached = true;
    }
  }

  @Override
  public synchronized void run() {
    try {
      stream();
    } catch (OutOfMemoryError e) {
      // Here rather than in gRPC, which would end the call with UNKNOWN and keep the slot.
      end(WireError.OUT_OF_MEMORY.exception(outOfMemory.apply(e)));
    } catch (RuntimeException e) {
      // run() is also called on the thread that frees a download slot, outside any gRPC callback:
      // answered here, once, as the aggregator fault it is.
      end(Refusals.fault(log, "streaming the parameters of round " + round, e));
    }
  }

  /** Ends the download with {@code error} and gives its slot back. */
  private void end(Throwable error) {
    done = true;
    release();
    out.onError(error);
  }

  private void stream() {
    while (granted && !done && out.isReady()) {
      ParameterMessage.Builder message =
          ParameterMessage.newBuilder().setEnvelope(WireProtocol.envelope(round));
      if (next < 0) {
        send(WireFrame.of(message.setManifest(parameters.manifest()).build(), CHUNK_FIELD));
      } else if (next < parameters.chunks().size()) {
        // The chunk's bytes are read from the global model's tensors when gRPC serialises the
        // frame, inside onNext: no byte[] per chunk. That memory may be freed once a later round
        // replaced the model, after which the round that sent it is over: end the download.
        if (!source.tryRead()) {
          end(WireError.TASK_ENDED.exception("the parameters of round " + round
              + " were replaced by a later round's: the task this download was for has ended"));
          return;
        }
        try {
          send(WireFrame.outgoing(message.setChunk(Chunk.newBuilder().setIndex(next)).build(),
              CHUNK_FIELD, parameters.chunkViews(next)));
        } finally {
          source.endRead();
        }
      } else {
        done = true;
        release();
        out.onCompleted();
        return;
      }
      next++;
    }
  }

  private void send(WireFrame<ParameterMessage> frame) {
    out.onNext(frame);
    bytesSent.addAndGet(frame.serializedSize());
  }

  private synchronized void cancel() {
    done = true;
    release();
  }
}
