package dev.ekko.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {

    @Test
    void readsWhatJmhWrites() {
        Object v = Json.parse("[{\"score\": 1.5E7, \"scoreError\": \"NaN\", \"ok\": true, \"none\": null,"
                + " \"name\": \"a\\\"b\\u00e9\\n\", \"raw\": [[1, -2.5e-3]]}]");
        Map<String, Object> e = Json.object(Json.array(v).get(0));
        assertEquals(1.5e7, Json.number(e.get("score")));
        assertTrue(Double.isNaN(Json.number(e.get("scoreError"))));
        assertEquals(Boolean.TRUE, e.get("ok"));
        assertTrue(e.containsKey("none"));
        assertEquals("a\"b\u00e9\n", e.get("name"));
        assertEquals(-2.5e-3, Json.number(Json.array(Json.array(e.get("raw")).get(0)).get(1)));
    }

    @Test
    void writesWhatItReads() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("text", "tab\there \"quoted\"");
        m.put("count", 3);
        m.put("list", List.of("a", "b"));
        m.put("nested", Map.of("x", 1.25));
        assertEquals(Json.parse(Json.write(m)).toString(), Json.parse(Json.write(Json.parse(Json.write(m)))).toString());
        assertEquals("tab\there \"quoted\"", Json.object(Json.parse(Json.write(m))).get("text"));
    }

    @Test
    void refusesBrokenJsonNamingTheOffset() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\": [1, 2}"));
        assertEquals("must be valid JSON: expected ']' at offset 11, found '}'", e.getMessage());
    }
}
