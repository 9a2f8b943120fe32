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
}
