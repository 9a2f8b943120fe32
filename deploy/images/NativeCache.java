/*
 * Run once while an image is built (deploy/images/Containerfile): starting ND4J's CPU backend makes
 * JavaCPP unpack its native libraries (about 400 MB: libnd4jcpu, OpenBLAS, libgomp) into the
 * directory named by -Dorg.bytedeco.javacpp.cachedir. The image keeps that directory, so a
 * container finds the libraries already there instead of unpacking them at every start.
 *
 * Plain reflection: compiled by bin/build-images with only the JDK, whatever ND4J version the app
 * brings.
 */
public final class NativeCache {
  public static void main(String[] args) throws Exception {
    Class<?> nd4j = Class.forName("org.nd4j.linalg.factory.Nd4j");
    Object array = nd4j.getMethod("ones", int[].class).invoke(null, (Object) new int[] {2, 2});
    Object sum = array.getClass().getMethod("sumNumber").invoke(array);
    if (((Number) sum).doubleValue() != 4.0) {
      throw new IllegalStateException("ND4J's CPU backend computed " + sum + " for 4.0");
    }
    System.out.println("ND4J natives cached in " + System.getProperty("org.bytedeco.javacpp.cachedir"));
  }
}
