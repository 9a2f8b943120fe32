package dev.flops.aggregator.internal.tracking;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tracking calls that could not be delivered, kept on disk until a later process delivers them.
 * One file per spill, {@code outbox-<utc time>-<id>.jsonl}, JSON lines:
 *
 * <pre>
 * {"format": "flops.tracking-outbox/1", "tracking_uri": "http://host:5000", "written_at_ms": ...}
 * {"bindings": {"&lt;session&gt;/experiment": "123", "&lt;session&gt;/run:parent": "&lt;run id&gt;", ...}}
 * {"call": {"session": ..., "kind": "set_status", "description": ..., "args": {...}}}   in order
 * </pre>
 *
 * Files a call needs (the model file) are copied next to it, into {@code <file name>.files/}. The
 * tracking URI is stored without credentials: whoever delivers the calls brings their own. A file
 * is written to a temporary name, forced to disk, renamed atomically and the directory forced, so
 * that a crash leaves either the whole spill or none of it. Like a checkpoint, what it writes is
 * readable by its owner only (where the file system has POSIX permissions): it holds the model.
 */
final class OutboxFile {
  private static final Logger log = LoggerFactory.getLogger(OutboxFile.class);
  static final String FORMAT = "flops.tracking-outbox/1";
  private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");

  private OutboxFile() {}

  /** What was read back: the files (to delete once delivered), bindings and calls, in order. */
  record Loaded(List<Path> files, Map<String, String> bindings, List<Outbox.Call> calls) {
    static Loaded empty() {
      return new Loaded(List.of(), Map.of(), List.of());
    }
  }

  /** A new file name: {@code outbox-<utc time>-<id>.jsonl}, sorting by time. */
  static String newName(String id) {
    return "outbox-" + ZonedDateTime.now(ZoneOffset.UTC).format(STAMP) + "-" + id + ".jsonl";
  }

  /** Writes calls (with the bindings they need) durably to a new file; returns the file. */
  static Path write(Path directory, String trackingUri, Map<String, String> bindings,
      List<Outbox.Call> calls) throws IOException {
    return write(directory, newName(UUID.randomUUID().toString().substring(0, 8)), trackingUri,
        bindings, calls);
  }

  /**
   * Writes calls (with the bindings they need) durably to the file {@code name}, replacing it
   * atomically if it exists; returns the file.
   */
  static Path write(Path directory, String name, String trackingUri, Map<String, String> bindings,
      List<Outbox.Call> calls) throws IOException {
    Files.createDirectories(directory);
    Path file = directory.resolve(name);
    Path files = directory.resolve(name + ".files");
    List<Outbox.Call> kept = new ArrayList<>(calls.size());
    Map<String, String> copied = new LinkedHashMap<>();
    for (Outbox.Call call : calls) {
      JsonObject args = call.args().deepCopy();
      if (args.has("model")) {
        JsonObject model = args.getAsJsonObject("model");
        String source = model.get("file").getAsString();
        String target = copied.get(source);
        if (target == null) {
          Path dir = Files.createDirectories(files.resolve(String.valueOf(copied.size())));
          ownerOnly(files);
          ownerOnly(dir);
          Path copy = dir.resolve(Path.of(source).getFileName());
          Files.copy(Path.of(source), copy, StandardCopyOption.REPLACE_EXISTING);
          ownerOnly(copy);
          force(copy);
          target = copy.toAbsolutePath().toString();
          copied.put(source, target);
        }
        model.addProperty("file", target);
      }
      kept.add(new Outbox.Call(call.session(), call.kind(), call.description(), args));
    }
    JsonObject header = new JsonObject();
    header.addProperty("format", FORMAT);
    header.addProperty("tracking_uri", trackingUri);
    header.addProperty("written_at_ms", System.currentTimeMillis());
    JsonObject bindingLine = new JsonObject();
    JsonObject bound = new JsonObject();
    bindings.forEach(bound::addProperty);
    bindingLine.add("bindings", bound);
    Path temp = directory.resolve("." + name + ".tmp");
    Files.deleteIfExists(temp);
    Files.createFile(temp);
    ownerOnly(temp);
    try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE);
        BufferedWriter out = new BufferedWriter(new OutputStreamWriter(
            Channels.newOutputStream(channel), StandardCharsets.UTF_8))) {
      out.write(header + "\n");
      out.write(bindingLine + "\n");
      for (Outbox.Call call : kept) {
        JsonObject c = new JsonObject();
        c.addProperty("session", call.session());
        c.addProperty("kind", call.kind());
        c.addProperty("description", call.description());
        c.add("args", call.args());
        JsonObject line = new JsonObject();
        line.add("call", c);
        out.write(line + "\n");
      }
      out.flush();
      channel.force(true);
    }
    Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    force(directory);
    return file;
  }

  /**
   * Reads every outbox file of the directory written for this tracking URI, oldest first. Files
   * for another URI stay untouched; an unreadable file is left in place with a warning.
   */
  static Loaded load(Path directory, String trackingUri) {
    if (!Files.isDirectory(directory)) {
      return Loaded.empty();
    }
    List<Path> candidates = new ArrayList<>();
    try (DirectoryStream<Path> stream = Files.newDirectoryStream(directory, "outbox-*.jsonl")) {
      stream.forEach(candidates::add);
    } catch (IOException e) {
      log.warn("could not list the tracking outbox {}: {}", directory, e.toString());
      return Loaded.empty();
    }
    candidates.sort(Comparator.comparing(p -> p.getFileName().toString()));
    List<Path> files = new ArrayList<>();
    Map<String, String> bindings = new LinkedHashMap<>();
    List<Outbox.Call> calls = new ArrayList<>();
    for (Path file : candidates) {
      try {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        JsonObject header = JsonParser.parseString(lines.get(0)).getAsJsonObject();
        if (!FORMAT.equals(header.get("format").getAsString())) {
          log.warn("{} is not a flops tracking outbox of format {}; left alone", file, FORMAT);
          continue;
        }
        String uri = header.get("tracking_uri").getAsString();
        if (!uri.equals(trackingUri)) {
          log.info("the tracking outbox {} holds calls for {}, not {}; it waits for an aggregator "
              + "or flush-tracking run against that URI", file, uri, trackingUri);
          continue;
        }
        List<Outbox.Call> fileCalls = new ArrayList<>();
        Map<String, String> fileBindings = new LinkedHashMap<>();
        for (String line : lines.subList(1, lines.size())) {
          if (line.isBlank()) {
            continue;
          }
          JsonObject object = JsonParser.parseString(line).getAsJsonObject();
          if (object.has("bindings")) {
            for (Map.Entry<String, JsonElement> e : object.getAsJsonObject("bindings").entrySet()) {
              fileBindings.put(e.getKey(), e.getValue().getAsString());
            }
          } else {
            JsonObject c = object.getAsJsonObject("call");
            fileCalls.add(new Outbox.Call(c.get("session").getAsString(),
                c.get("kind").getAsString(), c.get("description").getAsString(),
                c.getAsJsonObject("args")));
          }
        }
        files.add(file);
        bindings.putAll(fileBindings);
        calls.addAll(fileCalls);
      } catch (IOException | RuntimeException e) {
        log.warn("the tracking outbox file {} cannot be read ({}); left in place", file,
            e.toString());
      }
    }
    return new Loaded(List.copyOf(files), bindings, List.copyOf(calls));
  }

  /** Deletes delivered outbox files and the files copied next to them. */
  static void delete(List<Path> files) {
    delete(files, true);
  }

  /**
   * Deletes outbox files, and the files copied next to them unless calls still in memory may
   * need them (a journal that superseded these files copies them again when it is rewritten).
   */
  static void delete(List<Path> files, boolean copiesToo) {
    for (Path file : files) {
      try {
        Path copies = file.resolveSibling(file.getFileName() + ".files");
        if (copiesToo && Files.exists(copies)) {
          try (Stream<Path> walk = Files.walk(copies)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
              Files.deleteIfExists(p);
            }
          }
        }
        Files.deleteIfExists(file);
      } catch (IOException e) {
        log.warn("could not delete the delivered tracking outbox file {}: {}; delete it by hand, "
            + "or its calls are delivered again", file, e.toString());
      }
    }
  }

  /** Counts the calls waiting in a directory for a tracking URI. */
  static int pendingCalls(Path directory, String trackingUri) {
    return load(directory, trackingUri).calls().size();
  }

  private static void ownerOnly(Path path) throws IOException {
    try {
      Files.setPosixFilePermissions(path, Files.isDirectory(path)
          ? PosixFilePermissions.fromString("rwx------")
          : PosixFilePermissions.fromString("rw-------"));
    } catch (UnsupportedOperationException notPosix) {
      // Windows: the directory's access control list applies.
    }
  }

  private static void force(Path path) {
    try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
      channel.force(true);
    } catch (IOException e) {
      // Some platforms cannot open or force a directory; the rename itself is still atomic.
      log.debug("could not force {}: {}", path, e.toString());
    }
  }
}
