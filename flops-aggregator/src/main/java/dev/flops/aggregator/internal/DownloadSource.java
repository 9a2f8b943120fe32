package dev.flops.aggregator.internal;

import dev.flops.api.Parameters;
import dev.flops.proto.codec.EncodedParameters;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * One version of the global parameters as downloads read them, until it is retired.
 *
 * <p>A download cuts each chunk from the parameters' memory inside {@link #tryRead()} /
 * {@link #endRead()}; {@link #retire()} waits for the chunks being cut and makes every later
 * {@code tryRead()} fail, so that once it returns no download reads that memory again and the
 * training loop may free it ({@link dev.flops.aggregator.kernel.ResultMemory}). A chunk is copied
 * into the transport's buffers while it is sent, so a read lasts one chunk's copy.
 *
 * <p>Thread safety: downloads read from gRPC's threads; the training loop retires.
 */
final class DownloadSource {
  private final EncodedParameters encoded;
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private boolean retired;

  DownloadSource(EncodedParameters encoded) {
    this.encoded = encoded;
  }

  /** The encoded parameters: read their chunks only between tryRead and endRead. */
  EncodedParameters encoded() {
    return encoded;
  }

  /** Whether these are the encoding of {@code parameters} (the same object). */
  boolean encodes(Parameters parameters) {
    return encoded.parameters() == parameters;
  }

  /**
   * Starts reading a chunk.
   *
   * @return false if the parameters were retired: do not read them (and do not call endRead)
   */
  boolean tryRead() {
    lock.readLock().lock();
    if (retired) {
      lock.readLock().unlock();
      return false;
    }
    return true;
  }

  /** Ends the read that {@link #tryRead()} started. */
  void endRead() {
    lock.readLock().unlock();
  }

  /** Waits for reads in progress and refuses every later one. */
  void retire() {
    lock.writeLock().lock();
    try {
      retired = true;
    } finally {
      lock.writeLock().unlock();
    }
  }
}
