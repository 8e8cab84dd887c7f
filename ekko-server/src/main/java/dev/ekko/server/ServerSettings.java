package dev.ekko.server;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The settings of ekko-server itself ({@code ekko.server.*}); the generator and segment mode read the other {@code ekko.*}
 * keys as the library does. Immutable; {@link #toString()} never shows the token.
 */
public final class ServerSettings {

    /** {@code ekko.server.host}: the address both listeners bind. */
    public static final String HOST = "ekko.server.host";
    /** {@code ekko.server.http.port}: the HTTP port, 0 for any free one, {@code off} for none. */
    public static final String HTTP_PORT = "ekko.server.http.port";
    /** {@code ekko.server.grpc.port}: the gRPC port, 0 for any free one, {@code off} for none. */
    public static final String GRPC_PORT = "ekko.server.grpc.port";
    /** {@code ekko.server.threads}: I/O threads of each listener. */
    public static final String THREADS = "ekko.server.threads";
    /** {@code ekko.server.batch.max}: the most IDs one request may ask for. */
    public static final String BATCH_MAX = "ekko.server.batch.max";
    /** {@code ekko.server.token}: the bearer token every request must carry; none by default. */
    public static final String TOKEN = "ekko.server.token";
    /** {@code ekko.server.token.file}: a file holding the token (kept out of the environment and the command line). */
    public static final String TOKEN_FILE = "ekko.server.token.file";
    /** {@code ekko.server.tls.cert}: a PEM certificate chain; with {@link #TLS_KEY}, both listeners speak TLS only. */
    public static final String TLS_CERT = "ekko.server.tls.cert";
    /** {@code ekko.server.tls.key}: the PEM (PKCS#8) private key of {@link #TLS_CERT}. */
    public static final String TLS_KEY = "ekko.server.tls.key";

    /** Every key of the server. */
    public static final Set<String> KEYS = Set.of(HOST, HTTP_PORT, GRPC_PORT, THREADS, BATCH_MAX, TOKEN, TOKEN_FILE, TLS_CERT, TLS_KEY);

    /** The port used when none is set: HTTP. */
    public static final int DEFAULT_HTTP_PORT = 8080;
    /** The port used when none is set: gRPC. */
    public static final int DEFAULT_GRPC_PORT = 9090;
    /** The default bound of a batch. */
    public static final int DEFAULT_BATCH_MAX = 10_000;
    /** The largest bound of a batch that may be set. */
    public static final int MAX_BATCH_MAX = 1_000_000;

    private final String host;
    private final int httpPort;
    private final int grpcPort;
    private final int threads;
    private final int batchMax;
    private final byte[] token;
    private final Path tlsCert;
    private final Path tlsKey;

    private ServerSettings(String host, int httpPort, int grpcPort, int threads, int batchMax, byte[] token, Path tlsCert,
            Path tlsKey) {
        this.host = host;
        this.httpPort = httpPort;
        this.grpcPort = grpcPort;
        this.threads = threads;
        this.batchMax = batchMax;
        this.token = token;
        this.tlsCert = tlsCert;
        this.tlsKey = tlsKey;
    }

    /**
     * Reads the server's keys from a map of settings; other keys are left to the generator and segment mode.
     *
     * @param settings {@code ekko.*} keys and values
     * @return the settings
     * @throws IllegalArgumentException naming the key, the value and what is allowed, for an unknown {@code ekko.server.*}
     *     key or a bad value
     */
    public static ServerSettings of(Map<String, String> settings) {
        List<String> unknown = new ArrayList<>();
        for (String key : new TreeSet<>(settings.keySet())) {
            if (key.startsWith("ekko.server.") && !KEYS.contains(key)) {
                unknown.add(key);
            }
        }
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("unknown configuration key" + (unknown.size() > 1 ? "s: " : ": ") + String.join(", ", unknown)
                    + ". Known ekko.server keys: " + String.join(", ", new TreeSet<>(KEYS)));
        }
        String host = settings.getOrDefault(HOST, "127.0.0.1").trim();
        if (host.isEmpty()) {
            throw new IllegalArgumentException("must be an address or host name to bind, e.g. 0.0.0.0: " + HOST + "=\"\"");
        }
        int httpPort = port(HTTP_PORT, settings.get(HTTP_PORT), DEFAULT_HTTP_PORT);
        int grpcPort = port(GRPC_PORT, settings.get(GRPC_PORT), DEFAULT_GRPC_PORT);
        if (httpPort < 0 && grpcPort < 0) {
            throw new IllegalArgumentException("at least one listener is needed: " + HTTP_PORT + "=off and " + GRPC_PORT + "=off");
        }
        int threads = integer(THREADS, settings.get(THREADS), Runtime.getRuntime().availableProcessors(), 1, 256);
        int batchMax = integer(BATCH_MAX, settings.get(BATCH_MAX), DEFAULT_BATCH_MAX, 1, MAX_BATCH_MAX);
        byte[] token = token(settings.get(TOKEN), settings.get(TOKEN_FILE));
        String cert = settings.get(TLS_CERT);
        String key = settings.get(TLS_KEY);
        if ((cert == null) != (key == null)) {
            throw new IllegalArgumentException("TLS needs both " + TLS_CERT + " and " + TLS_KEY + ": only " + (cert == null ? TLS_KEY : TLS_CERT)
                    + " is set");
        }
        Path certPath = cert == null ? null : readable(TLS_CERT, cert);
        Path keyPath = key == null ? null : readable(TLS_KEY, key);
        return new ServerSettings(host, httpPort, grpcPort, threads, batchMax, token, certPath, keyPath);
    }

    /**
     * The server's keys from {@code EKKO_SERVER_*} variables, then {@code ekko.server.*} system properties (which win).
     *
     * @param env the environment
     * @param system the system properties
     * @return the {@code ekko.server.*} entries found
     */
    static Map<String, String> fromEnvironment(Map<String, String> env, java.util.Properties system) {
        Map<String, String> found = new TreeMap<>();
        env.forEach((name, value) -> {
            if (name.startsWith("EKKO_SERVER_")) {
                found.put(name.toLowerCase(Locale.ROOT).replace('_', '.'), value);
            }
        });
        for (String key : system.stringPropertyNames()) {
            if (key.startsWith("ekko.server.")) {
                found.put(key, system.getProperty(key));
            }
        }
        return found;
    }

    private static int port(String key, String value, int defaultValue) {
        if (value == null) {
            return defaultValue;
        }
        if (value.trim().equalsIgnoreCase("off")) {
            return -1;
        }
        return integer(key, value, defaultValue, 0, 65535);
    }

    private static int integer(String key, String value, int defaultValue, int min, int max) {
        if (value == null) {
            return defaultValue;
        }
        try {
            int v = Integer.parseInt(value.trim());
            if (v >= min && v <= max) {
                return v;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("must be an integer " + min + ".." + max + (key.endsWith(".port") ? " (0: any free port) or off"
                : "") + ": " + key + "=" + value);
    }

    private static byte[] token(String token, String file) {
        if (token != null && file != null) {
            throw new IllegalArgumentException("set one of " + TOKEN + " and " + TOKEN_FILE + ", not both");
        }
        String t = token;
        if (file != null) {
            try {
                t = Files.readString(readable(TOKEN_FILE, file), StandardCharsets.UTF_8).strip();
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot read the token file: " + TOKEN_FILE + "=" + file + " (" + e.getMessage() + ")", e);
            }
        }
        if (t == null) {
            return null;
        }
        if (t.length() < 16 || !t.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            // The value is never echoed: it may be a real secret with a typo.
            throw new IllegalArgumentException("must be at least 16 printable ASCII characters without blanks: " + (file != null ? TOKEN_FILE
                    + "=" + file + " (its content)" : TOKEN + " (value not shown)"));
        }
        return t.getBytes(StandardCharsets.US_ASCII);
    }

    private static Path readable(String key, String value) {
        Path p = Path.of(value.trim());
        if (!Files.isRegularFile(p) || !Files.isReadable(p)) {
            throw new IllegalArgumentException("must be a readable file: " + key + "=" + value);
        }
        return p;
    }

    /** {@return the address both listeners bind} */
    public String host() {
        return host;
    }

    /** {@return the HTTP port (0: any free one), or -1 for no HTTP listener} */
    public int httpPort() {
        return httpPort;
    }

    /** {@return the gRPC port (0: any free one), or -1 for no gRPC listener} */
    public int grpcPort() {
        return grpcPort;
    }

    /** {@return I/O threads per listener} */
    public int threads() {
        return threads;
    }

    /** {@return the most IDs one request may ask for} */
    public int batchMax() {
        return batchMax;
    }

    /** {@return whether requests must carry the bearer token} */
    public boolean tokenRequired() {
        return token != null;
    }

    /** {@return whether both listeners speak TLS} */
    public boolean tls() {
        return tlsCert != null;
    }

    Path tlsCert() {
        return tlsCert;
    }

    Path tlsKey() {
        return tlsKey;
    }

    /**
     * Checks a presented token in time independent of where it differs.
     *
     * @param presented the token presented, or null
     * @return true if no token is required or the presented one is it
     */
    boolean accepts(String presented) {
        if (token == null) {
            return true;
        }
        if (presented == null) {
            return false;
        }
        for (int i = 0; i < presented.length(); i++) {
            char c = presented.charAt(i);
            if (c <= 0x20 || c >= 0x7f) {
                return false; // the encoding below would turn it into '?', which a token may hold
            }
        }
        return java.security.MessageDigest.isEqual(token, presented.getBytes(StandardCharsets.US_ASCII));
    }

    /**
     * Checks an {@code Authorization} header value.
     *
     * @param header the header, or null
     * @return true if no token is required or the header is {@code Bearer <token>}
     */
    boolean acceptsAuthorization(String header) {
        if (token == null) {
            return true;
        }
        if (header == null || header.length() < 7 || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return false;
        }
        return accepts(header.substring(7).trim());
    }

    @Override
    public String toString() {
        return "ServerSettings{host=" + host + ", http=" + (httpPort < 0 ? "off" : httpPort) + ", grpc=" + (grpcPort < 0 ? "off" : grpcPort)
                + ", threads=" + threads + ", batchMax=" + batchMax + ", token=" + (token == null ? "none" : "required") + ", tls="
                + (tlsCert == null ? "off" : "on") + "}";
    }
}
