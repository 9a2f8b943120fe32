package dev.flops.aggregator;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The command-line options {@code --checkpoint-dir} and {@code --resume}, as a picocli mixin for
 * any aggregator main: {@code @Mixin CheckpointOptions checkpoints;} then
 * {@code checkpoints.applyTo(builder)}.
 */
public final class CheckpointOptions {

  @Option(names = "--checkpoint-dir", paramLabel = "DIR",
      description = "Write a checkpoint into DIR after every completed round.")
  Path directory;

  @Option(names = "--resume",
      description = "Continue from the checkpoint in --checkpoint-dir, if it holds one.")
  boolean resume;

  /**
   * Sets the options on a training plan's builder.
   *
   * @param builder the builder
   * @return the builder
   */
  public TrainingPlan.Builder applyTo(TrainingPlan.Builder builder) {
    if (directory != null) {
      builder.checkpointDirectory(directory);
    }
    return builder.resume(resume);
  }
}
