package dev.ekko.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The client's settings and its parsing of a server's answer, without a server. What it does against real servers
 * (failover, a restart, every server down, the token over TLS) is tested in ekko-server's integration tests.
 */
class EkkoClientTest {

    private static void assertRefused(String expected, Runnable r) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
        assertEquals(expected, e.getMessage());
    }

    @Test
    void badSettingsNameTheKeyAndTheValue() {
        assertRefused("at least one server is needed: ekko.client.servers (e.g. http://ids-1:8080)", () -> EkkoClient.builder().build());
        assertRefused("must be an http:// or https:// URL with a host: ekko.client.servers=ftp://x", () -> EkkoClient.builder().servers("ftp://x"));
        assertRefused("must be an http:// or https:// URL with a host: ekko.client.servers=ids-1:8080",
                () -> EkkoClient.builder().servers("ids-1:8080"));
        assertRefused("must be 1..1000000: ekko.client.batch=0", () -> EkkoClient.builder().batch(0));
        assertRefused("must be 1..100000000: ekko.client.buffer=-1", () -> EkkoClient.builder().buffer(-1));
        assertRefused("must be at least ekko.client.batch=1000: ekko.client.buffer=10",
                () -> EkkoClient.builder().servers("http://a:1").buffer(10).build());
        assertRefused("must be 1ms..10m: ekko.client.timeout=PT0S", () -> EkkoClient.builder().timeout(Duration.ZERO));
        assertRefused("must be a duration such as 500ms, 2s or 1m: ekko.client.timeout=soon",
                () -> EkkoClient.builder().setting("ekko.client.timeout", "soon"));
        assertRefused("must be an integer: ekko.client.batch=many", () -> EkkoClient.builder().setting("ekko.client.batch", "many"));
        assertRefused("unknown configuration key: ekko.client.batchsize. Known keys: ekko.client.servers, ekko.client.token,"
                + " ekko.client.batch, ekko.client.buffer, ekko.client.timeout", () -> EkkoClient.builder().setting("ekko.client.batchsize", "1"));
    }

    @Test
    void settingsAsKeysAndTheTokenNeverShown() {
        EkkoClient c = EkkoClient.builder().setting("ekko.client.servers", "http://a:1, https://b:2/").setting("ekko.client.token", "secret-0123456789")
                .setting("ekko.client.batch", "50").setting("ekko.client.buffer", "500").setting("ekko.client.timeout", "750ms").build();
        try {
            assertEquals("EkkoClient{servers=[http://a:1, https://b:2], batch=50, buffer=500, timeout=PT0.75S, token=set}", c.toString());
        } finally {
            c.close();
        }
        assertThrows(IllegalStateException.class, c::next, "closed");
    }

    @Test
    void segmentNamesFollowTheServersRule() {
        try (EkkoClient c = EkkoClient.builder().servers("http://a:1").build()) {
            assertRefused("must be 1 to 128 printable ASCII characters without blanks: segment name=\"a b\"", () -> c.segment("a b"));
            assertRefused("must be 1 to 128 printable ASCII characters without blanks: segment name=null", () -> c.segment(null));
            assertTrue(c.segment("order") != null);
        }
    }

    @Test
    void anAnswerIsParsedExactlyOrRefused() {
        assertArrayEquals(new long[] {1, -1L, 3}, // 2^64 - 1: unsigned
                Fetcher.parse("{\"ids\":[1,18446744073709551615,3]}", 3));
        assertThrows(IllegalArgumentException.class, () -> Fetcher.parse("{\"ids\":[1,2]}", 3), "fewer than asked");
        assertThrows(IllegalArgumentException.class, () -> Fetcher.parse("{\"ids\":[1,2,3,4]}", 3), "more than asked");
        assertThrows(IllegalArgumentException.class, () -> Fetcher.parse("{\"error\":\"x\"}", 1), "not an answer");
        assertThrows(NumberFormatException.class, () -> Fetcher.parse("{\"ids\":[\"1\"]}", 1), "strings: format=number was asked");
    }
}
