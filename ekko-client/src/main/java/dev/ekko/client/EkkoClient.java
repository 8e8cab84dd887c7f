package dev.ekko.client;

import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLContext;

/**
 * A client of one or several ekko-servers that hands out IDs from a buffer filled ahead of use.
 *
 * <p>Each kind of ID (snowflake, or one segment name) has its own buffer of up to {@code buffer} IDs, filled in batches of
 * {@code batch} from the servers over HTTP. When it falls to half, a background thread fetches more; a caller waits only
 * when the buffer is empty. A server that fails (refused, timed out, 5xx) is skipped for the next one; the one that
 * answered last is asked first. While every server is down, callers are served from the buffer for as long as it lasts,
 * then get {@link EkkoClientException} naming every server and what it answered.
 *
 * <pre>{@code
 * try (EkkoClient ids = EkkoClient.builder().servers("http://ids-1:8080", "http://ids-2:8080").token(secret).build()) {
 *     long id = ids.next();                       // a snowflake ID (unsigned: Long.toUnsignedString to print)
 *     long order = ids.segment("order").next();   // a number of segment name "order"
 * }
 * }</pre>
 *
 * <p>Every ID is unique as the server guarantees it; buffered IDs are handed out in the order they were fetched, so a
 * thread's IDs increase while one server serves them (snowflake IDs of two servers interleave by time, not in order).
 * IDs buffered when the process stops are lost (never handed out again): at most {@code buffer} per kind.
 */
public final class EkkoClient implements AutoCloseable {

    private final List<URI> servers;
    private final String token;
    private final int batch;
    private final int buffer;
    private final Duration timeout;
    private final HttpClient http;
    private final ExecutorService refills;
    private final Fetcher fetcher;
    private final IdBuffer snowflake;
    private final Map<String, IdBuffer> segments = new ConcurrentHashMap<>();
    private volatile boolean closed;

    private EkkoClient(Builder b) {
        this.servers = List.copyOf(b.servers);
        this.token = b.token;
        this.batch = b.batch;
        this.buffer = b.buffer;
        this.timeout = b.timeout;
        this.refills = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "ekko-client-refill");
            t.setDaemon(true);
            return t;
        });
        HttpClient.Builder hb = HttpClient.newBuilder().connectTimeout(timeout).version(HttpClient.Version.HTTP_1_1).executor(refills);
        if (b.sslContext != null) {
            hb.sslContext(b.sslContext);
        }
        this.http = hb.build();
        this.fetcher = new Fetcher(http, servers, token, timeout);
        this.snowflake = new IdBuffer("snowflake IDs", "/v1/ids", fetcher, refills, batch, buffer, timeout);
    }

    /** {@return a builder} */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * {@return a snowflake ID (unsigned 64-bit: print it with {@link Long#toUnsignedString(long)})}
     *
     * @throws EkkoClientException when the buffer is empty and no server gave more within the timeout
     */
    public long next() {
        checkOpen();
        return snowflake.next();
    }

    /**
     * The numbers of one segment name, from a buffer of their own.
     *
     * @param name the segment name, defined at the servers' store
     * @return its source; the same object for the same name
     */
    public Segment segment(String name) {
        checkOpen();
        if (name == null || !name.matches("[!-~]{1,128}")) {
            throw new IllegalArgumentException("must be 1 to 128 printable ASCII characters without blanks: segment name="
                    + (name == null ? "null" : "\"" + name + "\""));
        }
        IdBuffer b = segments.computeIfAbsent(name, n -> new IdBuffer("segment name \"" + n + "\"", "/v1/segment/"
                + java.net.URLEncoder.encode(n, java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20") + "/ids", fetcher, refills,
                batch, buffer, timeout));
        return b::next;
    }

    /** Numbers of one segment name. */
    @FunctionalInterface
    public interface Segment {
        /**
         * {@return the next number}
         *
         * @throws EkkoClientException when the buffer is empty and no server gave more within the timeout
         */
        long next();
    }

    /** {@return how many snowflake IDs are buffered now} */
    public int buffered() {
        return snowflake.size();
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("EkkoClient is closed");
        }
    }

    /** Stops refilling; buffered IDs are dropped (never handed out again). */
    @Override
    public void close() {
        closed = true;
        snowflake.close();
        segments.values().forEach(IdBuffer::close);
        refills.shutdownNow();
    }

    @Override
    public String toString() {
        return "EkkoClient{servers=" + servers + ", batch=" + batch + ", buffer=" + buffer + ", timeout=" + timeout + ", token="
                + (token == null ? "none" : "set") + "}";
    }

    /**
     * Settings of a client; {@link #environment()} reads {@code EKKO_CLIENT_*} variables and {@code ekko.client.*}
     * system properties.
     */
    public static final class Builder {
        private final List<URI> servers = new ArrayList<>();
        private String token;
        private int batch = 1000;
        private int buffer = 10_000;
        private Duration timeout = Duration.ofSeconds(2);
        private SSLContext sslContext;

        private Builder() {
        }

        /**
         * The servers, asked in this order at first ({@code ekko.client.servers}, comma-separated).
         *
         * @param urls base URLs, e.g. {@code http://ids-1:8080}
         * @return this
         */
        public Builder servers(String... urls) {
            for (String u : urls) {
                servers.add(url(u));
            }
            return this;
        }

        private static URI url(String u) {
            URI uri;
            try {
                uri = URI.create(Objects.requireNonNull(u, "server URL").trim());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("must be an http:// or https:// URL: ekko.client.servers=" + u, e);
            }
            if (uri.getScheme() == null || !(uri.getScheme().equals("http") || uri.getScheme().equals("https")) || uri.getHost() == null) {
                throw new IllegalArgumentException("must be an http:// or https:// URL with a host: ekko.client.servers=" + u);
            }
            String s = uri.toString();
            return URI.create(s.endsWith("/") ? s.substring(0, s.length() - 1) : s);
        }

        /**
         * The bearer token of the servers ({@code ekko.client.token}); never logged nor shown by {@code toString()}.
         *
         * @param token the token
         * @return this
         */
        public Builder token(String token) {
            String t = Objects.requireNonNull(token, "token").strip(); // as read from a file: its line end is not part of it
            if (t.isEmpty() || !t.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
                throw new IllegalArgumentException("must be printable ASCII characters without blanks, as the servers' token is:"
                        + " ekko.client.token (value not shown)");
            }
            this.token = t;
            return this;
        }

        /**
         * IDs per request ({@code ekko.client.batch}, default 1000); at most the servers' {@code ekko.server.batch.max}.
         *
         * @param batch 1..1,000,000
         * @return this
         */
        public Builder batch(int batch) {
            if (batch < 1 || batch > 1_000_000) {
                throw new IllegalArgumentException("must be 1..1000000: ekko.client.batch=" + batch);
            }
            this.batch = batch;
            return this;
        }

        /**
         * The most IDs buffered per kind ({@code ekko.client.buffer}, default 10,000): how long the client lasts with
         * every server down, and how many IDs a stop can lose.
         *
         * @param buffer at least the batch, at most 100,000,000
         * @return this
         */
        public Builder buffer(int buffer) {
            if (buffer < 1 || buffer > 100_000_000) {
                throw new IllegalArgumentException("must be 1..100000000: ekko.client.buffer=" + buffer);
            }
            this.buffer = buffer;
            return this;
        }

        /**
         * How long one request to a server may take, and how long a caller waits on an empty buffer
         * ({@code ekko.client.timeout}, default 2 s): a caller on an empty buffer waits at most this times the number of
         * servers (one refill asks each in turn).
         *
         * @param timeout 1 ms .. 10 min
         * @return this
         */
        public Builder timeout(Duration timeout) {
            if (timeout.compareTo(Duration.ofMillis(1)) < 0 || timeout.compareTo(Duration.ofMinutes(10)) > 0) {
                throw new IllegalArgumentException("must be 1ms..10m: ekko.client.timeout=" + timeout);
            }
            this.timeout = timeout;
            return this;
        }

        /**
         * The TLS context for {@code https://} servers (for a private CA); the JDK's default otherwise.
         *
         * @param context the context
         * @return this
         */
        public Builder sslContext(SSLContext context) {
            this.sslContext = Objects.requireNonNull(context, "sslContext");
            return this;
        }

        /**
         * Applies {@code EKKO_CLIENT_SERVERS}, {@code _TOKEN}, {@code _BATCH}, {@code _BUFFER}, {@code _TIMEOUT}, then the
         * {@code ekko.client.*} system properties, which win.
         *
         * @return this
         */
        public Builder environment() {
            for (String key : List.of("servers", "token", "batch", "buffer", "timeout")) {
                String env = System.getenv("EKKO_CLIENT_" + key.toUpperCase(Locale.ROOT));
                String v = System.getProperty("ekko.client." + key, env);
                if (v != null) {
                    setting("ekko.client." + key, v);
                }
            }
            return this;
        }

        /**
         * Sets one {@code ekko.client.*} key.
         *
         * @param key the key
         * @param value its value
         * @return this
         */
        public Builder setting(String key, String value) {
            switch (key) {
                case "ekko.client.servers":
                    servers.clear();
                    for (String s : value.split(",")) {
                        if (!s.isBlank()) {
                            servers.add(url(s));
                        }
                    }
                    return this;
                case "ekko.client.token":
                    return token(value.trim());
                case "ekko.client.batch":
                    return batch(integer(key, value));
                case "ekko.client.buffer":
                    return buffer(integer(key, value));
                case "ekko.client.timeout":
                    return timeout(duration(key, value));
                default:
                    throw new IllegalArgumentException("unknown configuration key: " + key + ". Known keys: ekko.client.servers,"
                            + " ekko.client.token, ekko.client.batch, ekko.client.buffer, ekko.client.timeout");
            }
        }

        private static int integer(String key, String value) {
            try {
                return Integer.parseInt(value.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("must be an integer: " + key + "=" + value, e);
            }
        }

        private static Duration duration(String key, String value) {
            String v = value.trim().toLowerCase(Locale.ROOT);
            try {
                if (v.endsWith("ms")) {
                    return Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2)));
                }
                if (v.endsWith("s")) {
                    return Duration.ofSeconds(Long.parseLong(v.substring(0, v.length() - 1)));
                }
                if (v.endsWith("m")) {
                    return Duration.ofMinutes(Long.parseLong(v.substring(0, v.length() - 1)));
                }
            } catch (NumberFormatException | ArithmeticException e) {
                // reported below
            }
            throw new IllegalArgumentException("must be a duration such as 500ms, 2s or 1m: " + key + "=" + value);
        }

        /**
         * Builds the client; no request is made until the first ID is asked for.
         *
         * @return the client
         * @throws IllegalArgumentException with no server, or a buffer smaller than a batch
         */
        public EkkoClient build() {
            if (servers.isEmpty()) {
                throw new IllegalArgumentException("at least one server is needed: ekko.client.servers (e.g. http://ids-1:8080)");
            }
            if (buffer < batch) {
                throw new IllegalArgumentException("must be at least ekko.client.batch=" + batch + ": ekko.client.buffer=" + buffer);
            }
            return new EkkoClient(this);
        }
    }
}
