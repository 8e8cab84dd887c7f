package dev.ekko.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server's own settings: defaults, each bad value refused with the key, the value and what is allowed; the token never shown. */
class ServerSettingsTest {

    @TempDir
    Path dir;

    private static void assertRefused(String expected, Map<String, String> settings) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ServerSettings.of(settings));
        assertEquals(expected, e.getMessage());
    }

    @Test
    void defaults() {
        ServerSettings s = ServerSettings.of(Map.of("ekko.idc", "3"));
        assertEquals("127.0.0.1", s.host());
        assertEquals(8080, s.httpPort());
        assertEquals(9090, s.grpcPort());
        assertEquals(10_000, s.batchMax());
        assertFalse(s.tokenRequired());
        assertFalse(s.tls());
        assertTrue(s.acceptsAuthorization(null), "no token: every request");
    }

    @Test
    void badValuesNameTheKey() {
        assertRefused("must be an integer 0..65535 (0: any free port) or off: ekko.server.http.port=80000",
                Map.of("ekko.server.http.port", "80000"));
        assertRefused("must be an integer 0..65535 (0: any free port) or off: ekko.server.grpc.port=grpc", Map.of("ekko.server.grpc.port", "grpc"));
        assertRefused("at least one listener is needed: ekko.server.http.port=off and ekko.server.grpc.port=off",
                Map.of("ekko.server.http.port", "off", "ekko.server.grpc.port", "OFF"));
        assertRefused("must be an integer 1..1000000: ekko.server.batch.max=0", Map.of("ekko.server.batch.max", "0"));
        assertRefused("must be an integer 1..256: ekko.server.threads=-2", Map.of("ekko.server.threads", "-2"));
        assertRefused("must be an address or host name to bind, e.g. 0.0.0.0: ekko.server.host=\"\"", Map.of("ekko.server.host", " "));
        assertRefused("unknown configuration key: ekko.server.prot. Known ekko.server keys: ekko.server.batch.max, ekko.server.grpc.port,"
                + " ekko.server.host, ekko.server.http.port, ekko.server.threads, ekko.server.tls.cert, ekko.server.tls.key, ekko.server.token,"
                + " ekko.server.token.file", Map.of("ekko.server.prot", "1"));
        assertRefused("TLS needs both ekko.server.tls.cert and ekko.server.tls.key: only ekko.server.tls.cert is set",
                Map.of("ekko.server.tls.cert", "/x"));
        assertRefused("must be a readable file: ekko.server.tls.cert=/no/such/cert.pem",
                Map.of("ekko.server.tls.cert", "/no/such/cert.pem", "ekko.server.tls.key", "/no/such/key.pem"));
    }

    @Test
    void aShortTokenIsRefusedWithoutShowingIt() throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ServerSettings.of(Map.of("ekko.server.token", "hunter2")));
        assertEquals("must be at least 16 printable ASCII characters without blanks: ekko.server.token (value not shown)", e.getMessage());
        Path file = dir.resolve("token");
        Files.writeString(file, "short\n");
        e = assertThrows(IllegalArgumentException.class, () -> ServerSettings.of(Map.of("ekko.server.token.file", file.toString())));
        assertFalse(e.getMessage().contains("short"), e.getMessage());
        assertRefused("set one of ekko.server.token and ekko.server.token.file, not both",
                Map.of("ekko.server.token", "0123456789abcdef", "ekko.server.token.file", file.toString()));
    }

    @Test
    void theTokenIsCheckedAsABearerCredentialAndNeverShown() throws Exception {
        Path file = dir.resolve("token");
        Files.writeString(file, "0123456789abcdef-secret\n");
        ServerSettings s = ServerSettings.of(Map.of("ekko.server.token.file", file.toString()));
        assertTrue(s.tokenRequired());
        assertTrue(s.acceptsAuthorization("Bearer 0123456789abcdef-secret"));
        assertTrue(s.acceptsAuthorization("bearer 0123456789abcdef-secret"));
        assertFalse(s.acceptsAuthorization("Bearer 0123456789abcdef-secreT"));
        assertFalse(s.acceptsAuthorization("0123456789abcdef-secret"));
        assertFalse(s.acceptsAuthorization("Basic 0123456789abcdef-secret"));
        assertFalse(s.acceptsAuthorization(null));
        assertFalse(s.toString().contains("secret"), s.toString());
    }

    @Test
    void environmentVariablesAndSystemPropertiesByTheNamingRule() {
        Properties system = new Properties();
        system.setProperty("ekko.server.http.port", "7001");
        system.setProperty("ekko.idc", "2");
        Map<String, String> found = ServerSettings.fromEnvironment(Map.of("EKKO_SERVER_HTTP_PORT", "7000", "EKKO_SERVER_BATCH_MAX", "50",
                "EKKO_IDC", "1"), system);
        assertEquals(Map.of("ekko.server.http.port", "7001", "ekko.server.batch.max", "50"), found, "properties win; only server keys");
    }
}
