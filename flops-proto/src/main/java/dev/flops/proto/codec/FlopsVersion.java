package dev.flops.proto.codec;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;
import picocli.CommandLine;

/**
 * The flops version for a main's {@code --version}: {@code flops 0.1.0}, from a properties file
 * that Maven filters at build time. It lives here, beside {@link CommandLineFlags}, because every
 * main (aggregator, learner, examples, benchmarks) already depends on this module. Use it as
 * {@code @Command(mixinStandardHelpOptions = true, versionProvider = FlopsVersion.class)}.
 * Stateless and thread-safe.
 */
public final class FlopsVersion implements CommandLine.IVersionProvider {
  private static final String RESOURCE = "/dev/flops/proto/flops-version.properties";

  /** Creates the provider; picocli calls this. */
  public FlopsVersion() {}

  /**
   * Returns the version line.
   *
   * @return one line, {@code flops <version>}
   * @throws IllegalStateException if the properties file is missing from the classpath or holds
   *     no filtered version (a build that skipped Maven's resource filtering)
   */
  @Override
  public String[] getVersion() {
    return new String[] {"flops " + version()};
  }

  /**
   * Returns the project version Maven wrote into this module's properties file.
   *
   * @return the version, e.g. {@code 0.1.0-SNAPSHOT}
   * @throws IllegalStateException if the file is missing or was not filtered
   */
  public static String version() {
    try (InputStream in = FlopsVersion.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException(RESOURCE + " is not on the classpath: build flops-proto "
            + "with Maven, which writes the version there");
      }
      Properties properties = new Properties();
      properties.load(in);
      String version = properties.getProperty("version", "");
      if (version.isBlank() || version.contains("${")) {
        throw new IllegalStateException(RESOURCE + " holds no version ('" + version
            + "'): build flops-proto with Maven, whose resource filtering writes it");
      }
      return version;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + RESOURCE, e);
    }
  }
}
