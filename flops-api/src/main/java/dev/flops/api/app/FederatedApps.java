package dev.flops.api.app;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.zip.ZipEntry;

/**
 * Loads the {@link FederatedApp} a jar declares, with {@link ServiceLoader}.
 *
 * <pre>{@code
 * LoadedApp app = FederatedApps.load(Path.of("my-app.jar"));
 * FederatedModel copy = app.newModel();
 * }</pre>
 *
 * <p>The jar's classes are loaded by a new {@link URLClassLoader} whose parent is the loader of
 * flops itself (the JVM's classpath), parent first: flops, DL4J and the app's other dependencies
 * come from the classpath, and a class that is on both is the classpath's. Only the provider the
 * jar itself declares counts; providers elsewhere on the classpath are ignored.
 *
 * <p>Errors name what is wrong and what to do: a jar that does not exist or cannot be read, a jar
 * that declares no provider (the message shows the line to add), one that declares two (both
 * named), a provider class that is missing or is no {@code FederatedApp}, and a provider whose
 * construction throws (its class and the cause).
 *
 * <p>Stateless and safe to call from any thread.
 */
public final class FederatedApps {

  /** The service file a jar declares its app in. */
  public static final String SERVICE_FILE = "META-INF/services/" + FederatedApp.class.getName();

  /** Beyond this many classes the "no provider" error does not look for candidates. */
  private static final int MAX_CLASSES_SCANNED = 5_000;

  private static final String RIGHT_LINE = "the line must be the binary name (com.example.MyApp, "
      + "or com.example.Outer$MyApp for a nested class) of a public class in the jar that "
      + "implements " + FederatedApp.class.getName() + " and has a public no-argument constructor";

  private FederatedApps() {}

  /**
   * Loads the one app that {@code jar} declares and creates it.
   *
   * @param jar the app's jar file
   * @return the created app with its jar and class loader; the loader stays open for the
   *     process's life (the app's classes load lazily)
   * @throws IllegalArgumentException if the jar does not exist or cannot be read as a jar, if it
   *     declares no provider or more than one, or if the declared class cannot be loaded or does
   *     not implement {@code FederatedApp}; the message says what to do
   * @throws FederatedAppException if the provider's constructor (or {@code provider()} method)
   *     throws; the message names the class and the cause, which is chained
   */
  public static LoadedApp load(Path jar) {
    Path file = jar.toAbsolutePath().normalize();
    if (!Files.exists(file)) {
      throw new IllegalArgumentException("app jar " + file + " does not exist: build the app "
          + "(e.g. mvn package) and pass the path of its jar to --app");
    }
    if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
      throw new IllegalArgumentException("app jar " + file + " is not a readable file: pass the "
          + "path of the app's jar to --app");
    }
    List<String> declared = declaredProviders(file);
    URLClassLoader loader = new URLClassLoader("flops-app " + file.getFileName(),
        new URL[] {url(file)}, FederatedApps.class.getClassLoader());
    if (declared.isEmpty()) {
      throw new IllegalArgumentException(noProvider(file, loader));
    }
    if (declared.size() > 1) {
      throw new IllegalArgumentException("app jar " + file + " declares " + declared.size()
          + " apps in " + SERVICE_FILE + ": " + String.join(" and ", declared)
          + "; a jar runs one app: keep one line in that file (or build one jar per app)");
    }
    String name = declared.get(0);
    ServiceLoader.Provider<FederatedApp> provider = find(file, loader, name);
    FederatedApp app;
    try {
      app = provider.get();
    } catch (ServiceConfigurationError e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      throw new FederatedAppException("app class " + name + " (declared by " + file
          + ") threw while it was created: " + cause + "; fix its constructor", cause);
    }
    return new LoadedApp(app, file, loader);
  }

  /** The provider named {@code name}, as the JDK's ServiceLoader finds it in the jar. */
  private static ServiceLoader.Provider<FederatedApp> find(
      Path file, ClassLoader loader, String name) {
    Iterator<ServiceLoader.Provider<FederatedApp>> providers =
        ServiceLoader.load(FederatedApp.class, loader).stream().iterator();
    while (true) {
      try {
        if (!providers.hasNext()) {
          break;
        }
        ServiceLoader.Provider<FederatedApp> provider = providers.next();
        if (provider.type().getName().equals(name)) {
          return provider;
        }
      } catch (ServiceConfigurationError e) {
        // Another jar's broken declaration is not this app's problem; this jar's is.
        if (String.valueOf(e.getMessage()).contains(name)) {
          throw new IllegalArgumentException("app jar " + file + " declares " + name + " in "
              + SERVICE_FILE + ", which cannot be used: " + e.getMessage() + "; " + RIGHT_LINE, e);
        }
      }
    }
    throw new IllegalArgumentException("app jar " + file + " declares " + name + " in "
        + SERVICE_FILE + ", but no such provider is found; " + RIGHT_LINE);
  }

  /** The class names the jar's own service file lists (comments and blank lines dropped). */
  private static List<String> declaredProviders(Path file) {
    try (JarFile jar = new JarFile(file.toFile())) {
      ZipEntry entry = jar.getEntry(SERVICE_FILE);
      if (entry == null) {
        return List.of();
      }
      Set<String> names = new LinkedHashSet<>();
      try (BufferedReader reader = new BufferedReader(
          new InputStreamReader(jar.getInputStream(entry), StandardCharsets.UTF_8))) {
        for (String line = reader.readLine(); line != null; line = reader.readLine()) {
          int comment = line.indexOf('#');
          String name = (comment < 0 ? line : line.substring(0, comment)).strip();
          if (!name.isEmpty()) {
            names.add(name);
          }
        }
      }
      return new ArrayList<>(names);
    } catch (IOException e) {
      throw new IllegalArgumentException("app jar " + file + " cannot be read as a jar (" + e
          + "): pass the path of the app's jar to --app", e);
    }
  }

  /** The "no provider" message, with the classes of the jar that could be the provider. */
  private static String noProvider(Path file, ClassLoader loader) {
    List<String> candidates = candidates(file, loader);
    String example = candidates.isEmpty() ? "com.example.MyApp" : candidates.get(0);
    String message = "app jar " + file + " declares no " + FederatedApp.class.getName()
        + ": add the file " + SERVICE_FILE + " to it (in Maven: src/main/resources/"
        + SERVICE_FILE + ") holding one line, the class name of your app, e.g.\n  " + example;
    if (candidates.size() > 1) {
      message += "\n(the jar has " + candidates.size() + " such classes: "
          + String.join(", ", candidates) + "; declare one)";
    }
    return message;
  }

  /** Concrete classes in the jar that implement FederatedApp, loaded without initialising. */
  private static List<String> candidates(Path file, ClassLoader loader) {
    List<String> found = new ArrayList<>();
    try (JarFile jar = new JarFile(file.toFile())) {
      int scanned = 0;
      for (Enumeration<JarEntry> entries = jar.entries(); entries.hasMoreElements(); ) {
        String entry = entries.nextElement().getName();
        if (!entry.endsWith(".class") || entry.contains("-") || ++scanned > MAX_CLASSES_SCANNED) {
          continue;
        }
        String name = entry.substring(0, entry.length() - ".class".length()).replace('/', '.');
        try {
          Class<?> type = Class.forName(name, false, loader);
          if (FederatedApp.class.isAssignableFrom(type) && !type.isInterface()
              && !java.lang.reflect.Modifier.isAbstract(type.getModifiers())) {
            found.add(type.getName());
          }
        } catch (ReflectiveOperationException | LinkageError e) {
          // A class that cannot even be loaded cannot be the app: only the hint is lost.
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e); // read once already, in declaredProviders
    }
    return found;
  }

  private static URL url(Path file) {
    try {
      return file.toUri().toURL();
    } catch (MalformedURLException e) {
      throw new IllegalArgumentException("app jar path " + file + " is not a valid URL", e);
    }
  }
}
