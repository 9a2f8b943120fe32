package dev.flops.api.strategy;

import java.nio.file.Path;

/**
 * The knobs every robust strategy's builder shares: where updates are staged, and FedAvg's
 * settings ({@code base}, from {@link ForwardingStrategy.Builder}); {@link WithByzantine} adds the
 * Krum family's f. Each setter checks its value at once.
 *
 * @param <B> the concrete builder, returned by every setter
 */
abstract class RobustBuilder<B extends RobustBuilder<B>> extends ForwardingStrategy.Builder<B> {
  Path stagingDirectory = UpdateStaging.defaultDirectory();

  RobustBuilder() {}

  @Override
  @SuppressWarnings("unchecked")
  final B self() {
    return (B) this;
  }

  /**
   * Sets where each round's updates are staged (default {@code flops-staging} under
   * {@code java.io.tmpdir}); created when first used, one file per round attempt in it, deleted
   * when the attempt ends.
   *
   * @param directory a directory, or a path where one may be created, with room for n × P × 4
   *     bytes (n updates of P float32 values)
   * @return this builder
   * @throws IllegalArgumentException if the path exists and is not a directory
   * @throws NullPointerException if {@code directory} is null
   */
  public B stagingDirectory(Path directory) {
    this.stagingDirectory = RobustRules.checkStagingDirectory(directory);
    return self();
  }

  /**
   * A builder of the Krum family (Krum, MultiKrum, Bulyan): the knobs above and f.
   *
   * @param <B> the concrete builder
   */
  abstract static class WithByzantine<B extends WithByzantine<B>> extends RobustBuilder<B> {
    int byzantine;

    WithByzantine() {}

    /**
     * Sets f, the number of Byzantine learners to tolerate (default 0); the strategy's class
     * comment gives how many updates a round then needs.
     *
     * @param f at least 0
     * @return this builder
     * @throws IllegalArgumentException if {@code f} is negative
     */
    public B byzantine(int f) {
      this.byzantine = RobustRules.checkByzantine(f);
      return self();
    }
  }
}
