package dev.flops.learner;

import dev.flops.api.LocalTrainer;
import dev.flops.api.app.FederatedApps;
import dev.flops.api.app.LearnerContext;
import dev.flops.api.app.LoadedApp;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code LearnerMain --app JAR}: the trainer a federated app's jar makes for this learner's
 * {@link LearnerContext} ({@code --data}, {@code --data-tags}, {@code --index},
 * {@code --learners}, {@code --name}).
 */
final class AppLearner {
  private AppLearner() {}

  /**
   * Loads the app and asks it for the trainer; the app's classes become the thread's context
   * class loader for the rest of the process.
   *
   * @param name the learner's name, or null for {@code <app name>-<index>}
   * @return the trainer and the learner's name
   * @throws IllegalArgumentException for a bad option, jar, data directory or context
   * @throws dev.flops.api.app.FederatedAppException if the app's code throws
   */
  static Named trainer(Path jar, Path data, String tags, int index, int learners, String name) {
    if (data == null) {
      throw new IllegalArgumentException("--app needs --data DIR: the directory that holds this "
          + "learner's data");
    }
    if (learners < 1) {
      throw new IllegalArgumentException("--learners must be at least 1 but was " + learners);
    }
    if (index < 0 || index >= learners) {
      throw new IllegalArgumentException(String.format(
          "--index %d is outside [0, %d): there are --learners %d", index, learners, learners));
    }
    List<String> dataTags = LearnerContext.parseTags(tags);
    LoadedApp app = FederatedApps.load(jar);
    Thread.currentThread().setContextClassLoader(app.classLoader());
    String learnerName = name != null ? name : app.name() + "-" + index;
    LearnerContext context = new LearnerContext(data, dataTags, index, learners, learnerName);
    return new Named(app.newTrainer(context), learnerName);
  }

  /** A trainer and the name its learner runs under. */
  record Named(LocalTrainer trainer, String name) {}
}
