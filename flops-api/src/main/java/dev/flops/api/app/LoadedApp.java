package dev.flops.api.app;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.function.Function;

/**
 * A {@link FederatedApp} created from its jar by {@link FederatedApps#load}: the app, its jar and
 * the class loader of its classes. The methods here call the app's and turn whatever it throws
 * into a {@link FederatedAppException} naming the app's class and the method, so that a main can
 * print one line that says which code failed.
 *
 * <p>Use from one thread, like the app itself.
 */
public final class LoadedApp {
  private final FederatedApp app;
  private final Path jar;
  private final ClassLoader classLoader;

  LoadedApp(FederatedApp app, Path jar, ClassLoader classLoader) {
    this.app = Objects.requireNonNull(app, "app");
    this.jar = jar;
    this.classLoader = classLoader;
  }

  /**
   * Returns the app itself, e.g. to check whether it also implements an optional interface.
   *
   * @return the app instance
   */
  public FederatedApp app() {
    return app;
  }

  /**
   * Returns the jar the app was loaded from.
   *
   * @return its absolute, normalised path
   */
  public Path jar() {
    return jar;
  }

  /**
   * Returns the loader of the app's classes; a main makes it the thread's context class loader so
   * that libraries which look up classes by name (serialisation, service loaders) see the app.
   *
   * @return the class loader
   */
  public ClassLoader classLoader() {
    return classLoader;
  }

  /**
   * Returns the app's name, checked.
   *
   * @return the non-blank name
   * @throws FederatedAppException if {@code name()} throws or returns null or a blank name
   */
  public String name() {
    String name = call("name()", FederatedApp::name);
    if (name == null || name.isBlank()) {
      throw new FederatedAppException(app.getClass().getName() + ".name() returned "
          + (name == null ? "null" : "a blank name") + "; return a name such as my-app", null);
    }
    return name;
  }

  /**
   * Calls {@link FederatedApp#newModel()}.
   *
   * @return the model, not null
   * @throws FederatedAppException if the app throws or returns null
   */
  public dev.flops.api.FederatedModel newModel() {
    return notNull("newModel()", call("newModel()", FederatedApp::newModel));
  }

  /**
   * Calls {@link FederatedApp#strategy()}.
   *
   * @return the strategy, not null
   * @throws FederatedAppException if the app throws or returns null
   */
  public dev.flops.api.strategy.Strategy strategy() {
    return notNull("strategy()", call("strategy()", FederatedApp::strategy));
  }

  /**
   * Checks that the context's data directory exists, then calls
   * {@link FederatedApp#newTrainer(LearnerContext)}.
   *
   * @param context the learner's context
   * @return the trainer, not null
   * @throws IllegalArgumentException if the data directory does not exist or is not a directory,
   *     or if the app rejects the context with an {@code IllegalArgumentException} (an unknown
   *     data tag, say), whose message is kept and prefixed with the app's class, or if the app
   *     cannot read its data and throws an {@code UncheckedIOException}: a data problem for the
   *     person who gave {@code --data}, not a bug of the app, so its message is kept too
   * @throws FederatedAppException if the app throws anything else or returns null
   */
  public dev.flops.api.LocalTrainer newTrainer(LearnerContext context) {
    Path data = context.dataDirectory();
    if (!Files.isDirectory(data)) {
      throw new IllegalArgumentException("data directory " + data.toAbsolutePath()
          + (Files.exists(data) ? " is not a directory" : " does not exist")
          + ": learner " + context.name() + " reads its data there; mount or copy the data "
          + "there, or give --data the directory that holds it");
    }
    try {
      return notNull("newTrainer(...)", call("newTrainer(...)", a -> a.newTrainer(context)));
    } catch (FederatedAppException e) {
      if (e.getCause() instanceof IllegalArgumentException rejected) {
        throw new IllegalArgumentException(app.getClass().getName() + " rejected learner "
            + context.name() + "'s context: " + rejected.getMessage(), rejected);
      }
      if (e.getCause() instanceof java.io.UncheckedIOException unreadable) {
        throw new IllegalArgumentException(app.getClass().getName() + " cannot read learner "
            + context.name() + "'s data: " + unreadable.getMessage(), unreadable);
      }
      throw e;
    }
  }

  /**
   * Calls one of the app's methods (or one of an optional interface it implements), turning what
   * it throws into a {@link FederatedAppException}.
   *
   * @param method the method's name for the message, e.g. {@code "plan(...)"}
   * @param call what to call on the app
   * @param <T> what it returns
   * @return what the call returned, possibly null
   * @throws FederatedAppException if the call throws a {@code RuntimeException} or an
   *     {@code Error} other than a {@code VirtualMachineError}
   */
  public <T> T call(String method, Function<FederatedApp, T> call) {
    ClassLoader previous = Thread.currentThread().getContextClassLoader();
    Thread.currentThread().setContextClassLoader(classLoader);
    try {
      return call.apply(app);
    } catch (RuntimeException | LinkageError | AssertionError e) {
      throw new FederatedAppException(app.getClass().getName() + "." + method + " threw " + e
          + "; fix the app (" + jar + ")", e);
    } finally {
      Thread.currentThread().setContextClassLoader(previous);
    }
  }

  private <T> T notNull(String method, T value) {
    if (value == null) {
      throw new FederatedAppException(app.getClass().getName() + "." + method
          + " returned null; it must return a new instance", null);
    }
    return value;
  }

  @Override
  public String toString() {
    return "app " + app.getClass().getName() + " from " + jar;
  }
}
