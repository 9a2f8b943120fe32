package dev.flops.proto.codec;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Rewrites a builder's error message in the terms of a command line. Builders name their knobs
 * ({@code minAvailableLearners}); a person who typed {@code --min-fit 3} must read the flag to
 * change ({@code --min-available}), not a Java method they never saw. A main keeps one mapping of
 * the knobs its flags set and passes every builder error through it; the builders stay as they
 * are. Immutable and thread-safe.
 */
public final class CommandLineFlags {
  private final List<Map.Entry<Pattern, String>> rewrites = new ArrayList<>();

  /** A command-line command whose flags set builder knobs, and that says which. */
  public interface Command {
    /**
     * Returns the knobs this command's flags set.
     *
     * @return the rewriting for this command's error messages
     */
    CommandLineFlags commandLineFlags();
  }

  /**
   * Rewrites an error message of {@code command}, if it is a {@link Command}; returns any other
   * command's message unchanged. For a main's picocli execution-exception handler.
   *
   * @param command the command object that failed
   * @param message its error message; null gives null
   * @return the message in the command line's terms
   */
  public static String inTermsOf(Object command, String message) {
    return command instanceof Command flagged ? flagged.commandLineFlags().rewrite(message)
        : message;
  }

  private CommandLineFlags(Map<String, String> knobToFlag) {
    knobToFlag.forEach((knob, flag) -> rewrites.add(Map.entry(
        // The knob as a whole word, with the argument of a setter call such as resume(true) or
        // onInsufficientResults(FAIL): the flag takes that argument instead.
        Pattern.compile("(?<![\\w-])" + Pattern.quote(knob) + "(?:\\(([^()]*)\\))?(?!\\w)"),
        flag)));
  }

  /**
   * Creates the rewriting for one main.
   *
   * @param knobToFlag each builder knob, as builder messages name it, to the flag that sets it,
   *     e.g. {@code minAvailableLearners} to {@code --min-available}; a knob that is also a word
   *     of prose (such as {@code rounds}) is better given with the word that follows it in the
   *     message ({@code "rounds must"} to {@code "--rounds must"})
   * @return the rewriting
   * @throws NullPointerException if the map or an entry is null
   */
  public static CommandLineFlags of(Map<String, String> knobToFlag) {
    knobToFlag.forEach((knob, flag) -> {
      Objects.requireNonNull(knob, "knob");
      Objects.requireNonNull(flag, "flag");
    });
    return new CommandLineFlags(knobToFlag);
  }

  /**
   * Returns the message with every knob replaced by its flag: {@code "raise
   * minAvailableLearners"} becomes {@code "raise --min-available"}, {@code "resume(true)"}
   * and {@code "resume(true) (--resume)"} become {@code "--resume"} and {@code "onInsufficientResults(FAIL)"} becomes
   * {@code "--on-insufficient-results FAIL"}.
   *
   * @param message a builder's error message; null gives null
   * @return the message in the command line's terms
   */
  public String rewrite(String message) {
    if (message == null) {
      return null;
    }
    String text = message;
    for (Map.Entry<Pattern, String> rewrite : rewrites) {
      Matcher matcher = rewrite.getKey().matcher(text);
      StringBuilder out = new StringBuilder();
      while (matcher.find()) {
        String argument = matcher.group(1);
        boolean noArgument = argument == null || argument.isEmpty() || argument.equals("true")
            || argument.equals("...");
        String replacement = rewrite.getValue() + (noArgument ? "" : " " + argument);
        matcher.appendReplacement(out, Matcher.quoteReplacement(replacement));
      }
      // A message that already named the flag after the knob ("resume(true) (--resume)").
      text = matcher.appendTail(out).toString()
          .replace(rewrite.getValue() + " (" + rewrite.getValue() + ")", rewrite.getValue());
    }
    return text;
  }
}
