package dev.flops.aggregator.internal.tracking;

import dev.flops.api.Parameters;
import dev.flops.api.io.NamedTensorFile;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * The safetensors model file of a model that cannot save itself, written by flops-api's {@link
 * NamedTensorFile} so that applications read it back with the same public class.
 */
final class SafeTensors {
  private SafeTensors() {}

  static final String FILE_NAME = NamedTensorFile.FILE_NAME;

  static void write(Parameters parameters, Map<String, String> metadata, Path file)
      throws IOException {
    NamedTensorFile.write(parameters, metadata, file);
  }
}
