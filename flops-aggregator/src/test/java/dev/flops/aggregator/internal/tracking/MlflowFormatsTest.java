package dev.flops.aggregator.internal.tracking;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** Values are written as Python (MLflow) writes them. */
class MlflowFormatsTest {

  @Test
  void floats_likePythonStr() {
    // Expected strings are Python's str(float) of the same values.
    assertEquals("0.5", PyFloat.format(0.5));
    assertEquals("1.0", PyFloat.format(1));
    assertEquals("123456.0", PyFloat.format(123456));
    assertEquals("0.0001", PyFloat.format(1e-4));
    assertEquals("1e-05", PyFloat.format(1e-5));
    assertEquals("1.5e-07", PyFloat.format(1.5e-7));
    assertEquals("1e+16", PyFloat.format(1e16));
    assertEquals("1234567890123456.0", PyFloat.format(1234567890123456.0));
    assertEquals("0.1", PyFloat.format(0.1));
    assertEquals("-2.5", PyFloat.format(-2.5));
    assertEquals("0.8395000100135803", PyFloat.format((double) 0.8395f));
    assertEquals("1.7976931348623157e+308", PyFloat.format(Double.MAX_VALUE));
    assertEquals("nan", PyFloat.format(Double.NaN));
    assertEquals("inf", PyFloat.format(Double.POSITIVE_INFINITY));
    assertEquals("-inf", PyFloat.format(Double.NEGATIVE_INFINITY));
    assertEquals("-0.0", PyFloat.format(-0.0));
  }

  @Test
  void yaml_likePyyamlSafeDump() {
    Map<String, Object> meta = new TreeMap<>();
    meta.put("experiment_id", "123");
    meta.put("name", "fashion mnist");
    meta.put("entry_point_name", "");
    meta.put("end_time", null);
    meta.put("tags", List.of());
    meta.put("status", 3);
    meta.put("artifact_uri", "file:///tmp/mlruns/1/abc/artifacts");
    meta.put("odd", "a: b");
    meta.put("quote", "it's");
    meta.put("bool", "true");
    meta.put("created", "2024-05-01 10:00:00.000001");
    assertEquals("""
        artifact_uri: file:///tmp/mlruns/1/abc/artifacts
        bool: 'true'
        created: '2024-05-01 10:00:00.000001'
        end_time: null
        entry_point_name: ''
        experiment_id: '123'
        name: fashion mnist
        odd: 'a: b'
        quote: it's
        status: 3
        tags: []
        """, Yaml.dump(meta));
    Map<String, Object> read = Yaml.readFlat(Yaml.dump(meta));
    assertEquals("123", read.get("experiment_id"));
    assertEquals("", read.get("entry_point_name"));
    assertEquals("a: b", read.get("odd"));
    assertEquals(null, read.get("end_time"));
  }

  @Test
  void yamlScalars_quotedExactlyWherePyyamlQuotesThem() {
    // Each right-hand side is what PyYAML 6.0.3's safe_dump wrote for the left-hand side. A run id
    // (random hex) that starts like a binary or octal number but is none stays plain, as MLflow
    // writes it; a CI run once drew 0b8b47... and found it quoted.
    String[][] cases = {
        {"0b8b47681bc2476bb864efd539b14949", "0b8b47681bc2476bb864efd539b14949"},
        {"12345678901234567890123456789012", "'12345678901234567890123456789012'"},
        {"0x1f", "'0x1f'"}, {"0e123", "0e123"}, {"1e5", "1e5"}, {"1.5", "'1.5'"},
        {"019", "019"}, {"017", "'017'"}, {"1:20", "'1:20'"}, {"y", "y"}, {"yes", "'yes'"},
        {":5", ":5"}, {"-x", "-x"}, {"- a", "'- a'"}, {"---x", "'---x'"},
        {"2024-05-01", "'2024-05-01'"}};
    for (String[] c : cases) {
      assertEquals(c[1], Yaml.scalar(c[0]), c[0]);
      assertEquals(c[0], Yaml.readFlat("k: " + Yaml.scalar(c[0]) + "\n").get("k"), c[0]);
    }
  }
}
