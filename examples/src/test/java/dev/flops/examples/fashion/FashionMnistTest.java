package dev.flops.examples.fashion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

class FashionMnistTest {

  @TempDir Path dir;

  @Test
  void fallsBackToTheEmbeddedSubsetWithoutDirectoryOrPackage() throws IOException {
    FashionMnist data = FashionMnist.loader().systemDir(dir.resolve("not-installed")).load();

    assertEquals(FashionMnist.Origin.EMBEDDED_SUBSET, data.source().origin());
    assertEquals("embedded subset (12000 train / 2000 test)", data.source().description());
    assertEquals(12000, data.train().size());
    assertEquals(2000, data.test().size());
    assertEquals(12000 * 784, data.train().features().length);
    assertPixelsSpanZeroToOne(data.train().features());
    assertPixelsSpanZeroToOne(data.test().features());
    assertAllClassesPresent(data.train());
    assertAllClassesPresent(data.test());
  }

  @Test
  void embeddedSubsetHasThePerClassCountsOfItsReadme() throws IOException {
    FashionMnist data = FashionMnist.loader().systemDir(dir).load();

    assertArrayEquals(
        new int[] {1122, 1220, 1201, 1212, 1181, 1204, 1244, 1192, 1195, 1229},
        data.train().classCounts());
    assertArrayEquals(
        new int[] {200, 203, 214, 190, 219, 195, 197, 200, 194, 188}, data.test().classCounts());
  }

  @Test
  void limitsLoadOnlyTheFirstExamples() throws IOException {
    FashionMnist all = FashionMnist.loader().systemDir(dir).load();
    FashionMnist some =
        FashionMnist.loader().systemDir(dir).limitTrain(3000).limitTest(500).load();

    assertEquals(3000, some.train().size());
    assertEquals(500, some.test().size());
    assertEquals(
        "embedded subset (3000 of 12000 train / 500 of 2000 test)", some.source().description());
    assertArrayEquals(Arrays.copyOf(all.train().labels(), 3000), some.train().labels());
    assertArrayEquals(Arrays.copyOf(all.test().features(), 500 * 784), some.test().features());
  }

  @Test
  void usesTheInstalledPackageWhenPresent() throws IOException {
    Assumptions.assumeTrue(
        Files.isRegularFile(FashionMnist.SYSTEM_DIR.resolve(FashionMnist.TRAIN_IMAGES)),
        "full Fashion-MNIST not installed under "
            + FashionMnist.SYSTEM_DIR
            + "; `apt-get install -y dataset-fashion-mnist` enables this test");

    FashionMnist data = FashionMnist.loader().load();

    assertEquals(FashionMnist.Origin.SYSTEM_PACKAGE, data.source().origin());
    assertEquals(
        "full Fashion-MNIST from /usr/share/datasets/fashion-mnist (60000 train / 10000 test)",
        data.source().description());
    assertEquals(60000, data.train().size());
    assertEquals(10000, data.test().size());
    int[] sixThousandEach = new int[10];
    Arrays.fill(sixThousandEach, 6000);
    assertArrayEquals(sixThousandEach, data.train().classCounts());
    assertPixelsSpanZeroToOne(data.test().features());
  }

  @Test
  void namedDirectoryIsUsedEvenWhenThePackageIsInstalled() throws IOException {
    IdxFiles.writeSplit(dir, FashionMnist.TRAIN_IMAGES, FashionMnist.TRAIN_LABELS, 30, 30);
    IdxFiles.writeSplit(dir, FashionMnist.TEST_IMAGES, FashionMnist.TEST_LABELS, 20, 20);

    FashionMnist data = FashionMnist.loader().dataDir(dir).load();

    assertEquals(FashionMnist.Origin.DATA_DIR, data.source().origin());
    assertEquals(
        "Fashion-MNIST from " + dir + " (30 train / 20 test)", data.source().description());
    assertEquals(7 / 255f, data.train().features()[784], 1e-7, "image 1 starts at pixel 7");
    assertEquals(9, data.test().labels()[19]);
  }

  @Test
  void namedMissingDirectoryExplainsHowToGetTheData() {
    Path missing = dir.resolve("fashion");

    FashionMnist.Loader loader = FashionMnist.loader().dataDir(missing);

    FileNotFoundException e = assertThrows(FileNotFoundException.class, loader::load);

    assertTrue(e.getMessage().contains(missing + " does not exist"), e.getMessage());
    assertTrue(e.getMessage().contains("apt-get install -y dataset-fashion-mnist"), e.getMessage());
    assertTrue(e.getMessage().contains("omit --data-dir"), e.getMessage());
  }

  @Test
  void namedDirectoryLackingFilesListsThem() throws IOException {
    IdxFiles.writeSplit(dir, FashionMnist.TRAIN_IMAGES, FashionMnist.TRAIN_LABELS, 3, 3);

    FashionMnist.Loader loader = FashionMnist.loader().dataDir(dir);

    FileNotFoundException e = assertThrows(FileNotFoundException.class, loader::load);

    assertTrue(
        e.getMessage().contains("lacks t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz"),
        e.getMessage());
    assertTrue(e.getMessage().contains("apt-get install -y dataset-fashion-mnist"), e.getMessage());
  }

  @Test
  void imageAndLabelCountMismatchNamesBothFiles() throws IOException {
    IdxFiles.writeSplit(dir, FashionMnist.TRAIN_IMAGES, FashionMnist.TRAIN_LABELS, 5, 4);
    IdxFiles.writeSplit(dir, FashionMnist.TEST_IMAGES, FashionMnist.TEST_LABELS, 2, 2);

    FashionMnist.Loader loader = FashionMnist.loader().dataDir(dir);

    IOException e = assertThrows(IOException.class, loader::load);

    String message = e.getMessage();
    assertTrue(message.contains("count mismatch"), message);
    assertTrue(message.contains(FashionMnist.TRAIN_IMAGES + " holds 5 images"), message);
    assertTrue(message.contains(FashionMnist.TRAIN_LABELS + " holds 4 labels"), message);
  }

  @Test
  void toDataSetGivesFloatFeaturesAndOneHotLabels() throws IOException {
    FashionMnist.Split train = FashionMnist.loader().systemDir(dir).limitTrain(50).load().train();
    int[] indices = {42, 3, 3};

    DataSet dataSet = train.toDataSet(indices);

    INDArray x = dataSet.getFeatures();
    INDArray y = dataSet.getLabels();
    assertArrayEquals(new long[] {3, 784}, x.shape());
    assertArrayEquals(new long[] {3, 10}, y.shape());
    assertEquals(DataType.FLOAT, x.dataType());
    assertEquals(DataType.FLOAT, y.dataType());
    for (int row = 0; row < indices.length; row++) {
      int start = indices[row] * 784;
      float[] expected = Arrays.copyOfRange(train.features(), start, start + 784);
      assertArrayEquals(expected, x.getRow(row).toFloatVector());
      float[] oneHot = new float[10];
      oneHot[train.labels()[indices[row]]] = 1f;
      assertArrayEquals(oneHot, y.getRow(row).toFloatVector());
    }
  }

  @Test
  void toDataSetRejectsAnIndexOutOfRange() throws IOException {
    FashionMnist.Split test = FashionMnist.loader().systemDir(dir).limitTest(10).load().test();

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> test.toDataSet(new int[] {0, 10}));

    assertTrue(e.getMessage().contains("index 10 at position 1 not in [0, 10)"), e.getMessage());
  }

  @Test
  void limitBelowOneIsRejected() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> FashionMnist.loader().limitTrain(0));

    assertTrue(e.getMessage().contains("limitTrain must be >= 1, got 0"), e.getMessage());
  }

  private static void assertPixelsSpanZeroToOne(float[] features) {
    float min = Float.MAX_VALUE;
    float max = -Float.MAX_VALUE;
    for (float f : features) {
      min = Math.min(min, f);
      max = Math.max(max, f);
    }
    assertEquals(0f, min, "darkest pixel");
    assertEquals(1f, max, "brightest pixel");
  }

  private static void assertAllClassesPresent(FashionMnist.Split split) {
    for (int c = 0; c < FashionMnist.NUM_CLASSES; c++) {
      assertTrue(split.classCounts()[c] > 0, "class " + c + " has examples");
    }
  }
}
