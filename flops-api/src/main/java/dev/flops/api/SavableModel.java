package dev.flops.api;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A {@link FederatedModel} that can save itself in its framework's own format, so that the
 * aggregator's tracking logs the best model in that format (e.g. DL4J's {@code ModelSerializer}
 * zip) instead of the generic named-tensor file.
 *
 * <p>Implementations must not change the model itself: {@link #save} writes the given parameters
 * with the model's architecture, while the model keeps its own parameters.
 */
public interface SavableModel extends FederatedModel {

  /**
   * Writes a complete, loadable model with the given parameters to a file.
   *
   * @param parameters parameters with this model's structure, e.g. the best round's
   * @param file the file to create or replace
   * @throws IOException if the file cannot be written
   * @throws IllegalArgumentException if the parameters do not fit this model
   */
  void save(Parameters parameters, Path file) throws IOException;

  /**
   * Names the file {@link #save} writes, e.g. {@code model.zip}.
   *
   * @return a plain file name without directories
   */
  String fileName();

  /**
   * Names the framework, as an MLflow flavour, e.g. {@code dl4j}.
   *
   * @return the flavour name
   */
  String flavor();

  /**
   * Describes how to load the saved file, as key-value pairs of the flavour (e.g. the loader
   * class and the framework version).
   *
   * @return the flavour's attributes, in a stable order
   */
  Map<String, String> flavorAttributes();

  /**
   * Lists what a program needs to load the saved model: Maven coordinates
   * ({@code groupId:artifactId:version}, or {@code groupId:artifactId:jar:classifier:version}
   * for a classified artifact).
   *
   * @return the requirements, one coordinate each
   */
  List<String> requirements();
}
