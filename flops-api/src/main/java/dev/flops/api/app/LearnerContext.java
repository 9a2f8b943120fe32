package dev.flops.api.app;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * What a learner process knows about itself when it asks a {@link FederatedApp} for its trainer:
 * where its data is, which of that data to use, and which learner of how many it is.
 *
 * <p>The data directory is not checked here: {@link LoadedApp#newTrainer(LearnerContext)} checks
 * that it exists before the app sees it.
 *
 * @param dataDirectory the directory that holds this learner's data (the learner main's
 *     {@code --data}); never null
 * @param dataTags tags that select or describe the data, in the order given (the learner main's
 *     {@code --data-tags a,b}); each non-blank and without commas; may be empty; copied
 * @param index this learner's index, from 0 to {@code count - 1} (a Kubernetes Indexed Job's
 *     completion index); apps that partition one data set use it to pick their share
 * @param count the number of learners the data is shared among, at least 1
 * @param name the learner's name in logs and on the aggregator; non-blank
 */
public record LearnerContext(
    Path dataDirectory, List<String> dataTags, int index, int count, String name) {

  /**
   * Checks and copies the values.
   *
   * @throws NullPointerException if a value or a tag is null
   * @throws IllegalArgumentException if {@code count < 1}, {@code index} is outside
   *     {@code [0, count)}, the name is blank, or a tag is blank or holds a comma
   */
  public LearnerContext {
    Objects.requireNonNull(dataDirectory, "dataDirectory");
    dataTags = List.copyOf(Objects.requireNonNull(dataTags, "dataTags"));
    Objects.requireNonNull(name, "name");
    if (count < 1) {
      throw new IllegalArgumentException("learner count must be at least 1 but was " + count);
    }
    if (index < 0 || index >= count) {
      throw new IllegalArgumentException(String.format(
          "learner index %d is outside [0, %d): indices run from 0 to the learner count - 1",
          index, count));
    }
    if (name.isBlank()) {
      throw new IllegalArgumentException("learner name must not be blank");
    }
    for (String tag : dataTags) {
      if (tag.isBlank() || tag.contains(",")) {
        throw new IllegalArgumentException("data tag '" + tag
            + "' must be non-blank and without commas; tags are given as a,b,c");
      }
    }
  }

  /**
   * Splits a comma-separated tag list as the learner main's {@code --data-tags} takes it.
   *
   * @param commaSeparated e.g. {@code "iid,train-limit=600"}; blank gives no tags; spaces around
   *     tags are dropped
   * @return the tags, in order
   * @throws IllegalArgumentException if a tag between commas is empty ({@code "a,,b"})
   */
  public static List<String> parseTags(String commaSeparated) {
    if (commaSeparated.isBlank()) {
      return List.of();
    }
    List<String> tags = new java.util.ArrayList<>();
    for (String tag : commaSeparated.split(",", -1)) {
      if (tag.isBlank()) {
        throw new IllegalArgumentException("data tags '" + commaSeparated
            + "' hold an empty tag; write them as a,b,c");
      }
      tags.add(tag.strip());
    }
    return List.copyOf(tags);
  }
}
