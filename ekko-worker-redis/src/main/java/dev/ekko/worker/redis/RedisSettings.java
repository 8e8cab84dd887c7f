package dev.ekko.worker.redis;

import dev.ekko.spi.AllocatorContext;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The redis allocator's configuration, parsed and checked once, then sealed.
 *
 * <p>The URI is {@code redis://[[user][:password]@]host[:port][/database]}, or {@code rediss://} for TLS.
 * {@code ekko.redis.user}, {@code ekko.redis.password} and {@code ekko.redis.database} may be given
 * instead of (or, with the same value, as well as) the URI's parts; two different values for one part
 * are refused, since one of them is a mistake. The password appears nowhere: not in
 * {@link #toString()}, not in any message this class makes.
 */
final class RedisSettings {

    static final String URI_KEY = "ekko.redis.uri";
    static final String USER_KEY = "ekko.redis.user";
    static final String PASSWORD_KEY = "ekko.redis.password";
    static final String DATABASE_KEY = "ekko.redis.database";
    static final String NAMESPACE_KEY = "ekko.redis.namespace";
    static final String TIMEOUT_KEY = "ekko.redis.timeout";
    static final String POOL_SIZE_KEY = "ekko.redis.pool.size";
    /** The default and the largest {@link #POOL_SIZE_KEY}. */
    static final int DEFAULT_POOL_SIZE = 8;
    static final int MAX_POOL_SIZE = 256;

    /** Every key the allocator reads. */
    static final Set<String> KEYS = Set.of(URI_KEY, USER_KEY, PASSWORD_KEY, DATABASE_KEY, NAMESPACE_KEY, TIMEOUT_KEY, POOL_SIZE_KEY);

    static final int DEFAULT_PORT = 6379;
    static final String DEFAULT_NAMESPACE = "ekko";
    static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(2);
    static final Duration MIN_TIMEOUT = Duration.ofMillis(100);
    static final Duration MAX_TIMEOUT = Duration.ofMinutes(1);
    static final int MAX_DATABASE = 65535;

    /** Printable ASCII without blanks, and without the braces of Redis Cluster hash tags. */
    private static final Pattern NAMESPACE = Pattern.compile("[!-z|~]{1,100}");
    private static final String URI_FORM = "redis://[[user][:password]@]host[:port][/database] or rediss://... (TLS)";

    private final String host;
    private final int port;
    private final boolean tls;
    private final String user;
    private final String password;
    private final int database;
    private final String namespace;
    private final Duration timeout;
    private final int poolSize;

    private RedisSettings(String host, int port, boolean tls, String user, String password, int database, String namespace,
            Duration timeout, int poolSize) {
        this.host = host;
        this.port = port;
        this.tls = tls;
        this.user = user;
        this.password = password;
        this.database = database;
        this.namespace = namespace;
        this.timeout = timeout;
        this.poolSize = poolSize;
    }

    /**
     * @param context the allocator's context, whose settings hold {@code ekko.redis.*}
     * @return the parsed settings
     * @throws IllegalArgumentException naming the key and its value (password masked) if a value is missing or malformed
     */
    static RedisSettings from(AllocatorContext context) {
        String explicitPassword = context.setting(PASSWORD_KEY).orElse(null);
        String rawUri = context.requireSetting(URI_KEY, "the Redis server to lease worker IDs from, " + URI_FORM).trim();
        String shownUri = mask(maskUriValue(rawUri), explicitPassword);
        URI uri;
        try {
            uri = new URI(rawUri);
        } catch (URISyntaxException e) {
            throw invalidUri("must be a URI such as " + URI_FORM, shownUri);
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("redis") && !scheme.equals("rediss")) {
            throw invalidUri("must use the scheme redis:// or rediss:// (TLS), as in " + URI_FORM, shownUri);
        }
        if (uri.isOpaque() || uri.getHost() == null || uri.getHost().isEmpty()) {
            throw invalidUri("must name a host, as in " + URI_FORM + " (a host name, an IPv4 address, or an IPv6 address in [])",
                    shownUri);
        }
        if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
            throw invalidUri("must not have a query or fragment; set ekko.redis.timeout, ekko.redis.database and the others"
                    + " as settings", shownUri);
        }
        String host = uri.getHost();
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port = uri.getPort() == -1 ? DEFAULT_PORT : uri.getPort();
        if (port < 1 || port > 65535) {
            throw invalidUri("must have a port >= 1 && <= 65535", shownUri);
        }

        String uriUser = null;
        String uriPassword = null;
        String userInfo = uri.getRawUserInfo();
        if (userInfo != null) {
            int colon = userInfo.indexOf(':');
            if (colon < 0) {
                // Some clients read redis://secret@host as a password: never take it for a user name, which is printed.
                throw invalidUri("must write credentials as redis://user:password@host or redis://:password@host (default user)",
                        shownUri);
            }
            String u = userInfo.substring(0, colon);
            uriUser = u.isEmpty() ? null : percentDecode(u, shownUri);
            uriPassword = percentDecode(userInfo.substring(colon + 1), shownUri);
            if (uriPassword.isEmpty()) {
                uriPassword = null;
            }
        }
        Integer uriDatabase = null;
        String path = uri.getRawPath();
        if (path != null && !path.isEmpty() && !path.equals("/")) {
            String db = path.substring(1);
            if (!db.matches("\\d{1,5}") || Integer.parseInt(db) > MAX_DATABASE) {
                throw invalidUri("must have a database number >= 0 && <= " + MAX_DATABASE + " as its path (redis://host:6379/0),"
                        + " or no path", shownUri);
            }
            uriDatabase = Integer.parseInt(db);
        }

        String user = merge(USER_KEY, context.setting(USER_KEY).map(String::trim).filter(s -> !s.isEmpty()).orElse(null), uriUser,
                false);
        if (explicitPassword != null && explicitPassword.isEmpty()) {
            explicitPassword = null;
        }
        String password = merge(PASSWORD_KEY, explicitPassword, uriPassword, true);
        Integer ownDatabase = context.setting(DATABASE_KEY).isPresent() ? context.intSetting(DATABASE_KEY, 0, 0, MAX_DATABASE) : null;
        Integer database = merge(DATABASE_KEY, ownDatabase, uriDatabase, false);
        if (user != null && password == null) {
            throw new IllegalArgumentException("must be set when a user is (" + USER_KEY + "=" + user + "): " + PASSWORD_KEY
                    + " (environment variable EKKO_REDIS_PASSWORD), or the password in " + URI_KEY);
        }

        String namespace = context.setting(NAMESPACE_KEY).map(String::trim).orElse(DEFAULT_NAMESPACE);
        if (!NAMESPACE.matcher(namespace).matches()) {
            throw new IllegalArgumentException("must be 1 to 100 printable ASCII characters without blanks, '{' or '}': "
                    + NAMESPACE_KEY + "=\"" + namespace + "\"");
        }
        Duration timeout = context.durationSetting(TIMEOUT_KEY, DEFAULT_TIMEOUT);
        if (timeout.compareTo(MIN_TIMEOUT) < 0 || timeout.compareTo(MAX_TIMEOUT) > 0) {
            throw new IllegalArgumentException("must be >= 100ms && <= 1m: " + TIMEOUT_KEY + "=" + context.setting(TIMEOUT_KEY).orElse(""));
        }
        return new RedisSettings(host, port, scheme.equals("rediss"), user, password, database == null ? 0 : database, namespace,
                timeout, context.intSetting(POOL_SIZE_KEY, DEFAULT_POOL_SIZE, 1, MAX_POOL_SIZE));
    }

    /** One part given twice, by its own key and inside the URI: the same value is fine, two values are a mistake. */
    private static <T> T merge(String key, T own, T fromUri, boolean secret) {
        if (own == null) {
            return fromUri;
        }
        if (fromUri != null && !fromUri.equals(own)) {
            throw new IllegalArgumentException("must not differ from the one in " + URI_KEY + " (set it in one place): " + key + "="
                    + (secret ? "***" : own) + ", but the URI says " + (secret ? "***" : fromUri));
        }
        return own;
    }

    private static IllegalArgumentException invalidUri(String constraint, String shownUri) {
        return new IllegalArgumentException(constraint + ": " + URI_KEY + "=" + shownUri);
    }

    /** RFC 3986 percent-decoding (no '+' for space, unlike form encoding). */
    private static String percentDecode(String s, String shownUri) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '%') {
                if (i + 2 >= s.length() || Character.digit(s.charAt(i + 1), 16) < 0 || Character.digit(s.charAt(i + 2), 16) < 0) {
                    throw invalidUri("must percent-encode as %XX in its user and password", shownUri);
                }
                out.write(Character.digit(s.charAt(i + 1), 16) * 16 + Character.digit(s.charAt(i + 2), 16));
                i += 2;
            } else {
                byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                out.write(b, 0, b.length);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /**
     * @param text any text that may hold a URI or a password
     * @param passwords passwords to hide wherever they appear literally (null entries ignored)
     * @return the text with every given password, and the password part of every {@code scheme://user:password@} (the
     *     whole user part when it has no {@code :}, up to its last {@code @}), replaced by {@code ***}
     */
    static String mask(String text, String... passwords) {
        if (text == null) {
            return null;
        }
        StringBuilder out = new StringBuilder(text.length());
        int from = 0;
        for (int scheme = text.indexOf("://"); scheme >= 0; scheme = text.indexOf("://", from)) {
            int start = scheme + 3;
            int end = start;
            while (end < text.length() && !Character.isWhitespace(text.charAt(end))) {
                end++;
            }
            int at = text.lastIndexOf('@', end - 1);
            out.append(text, from, start);
            if (at >= start) {
                int colon = text.indexOf(':', start);
                out.append(colon >= 0 && colon < at ? text.substring(start, colon) + ":***" : "***");
                from = at;
            } else {
                from = start;
            }
        }
        String masked = out.append(text, from, text.length()).toString();
        for (String p : passwords) {
            if (p != null && !p.isEmpty()) {
                masked = masked.replace(p, "***");
            }
        }
        return masked;
    }

    /**
     * Masks the credentials of a URI that may be malformed (no {@code //}, no scheme, an unencoded {@code @} in the
     * password): everything from the start of the authority to the last {@code @}, but a user name before a
     * {@code :}, becomes {@code ***}.
     */
    static String maskUriValue(String value) {
        int at = value.lastIndexOf('@');
        if (at < 0) {
            return value;
        }
        int slashes = value.indexOf("//");
        int colon = value.indexOf(':');
        int start = slashes >= 0 && slashes < at ? slashes + 2 : colon >= 0 && colon < at ? colon + 1 : 0;
        String info = value.substring(start, at);
        int userEnd = info.indexOf(':');
        return value.substring(0, start) + (userEnd >= 0 ? info.substring(0, userEnd) + ":***" : "***") + value.substring(at);
    }

    /** {@return the text with this configuration's password, and any URI's, hidden} */
    String masked(String text) {
        return mask(text, password);
    }

    String host() {
        return host;
    }

    int port() {
        return port;
    }

    boolean tls() {
        return tls;
    }

    /** {@return the ACL user, or null for the default user} */
    String user() {
        return user;
    }

    /** {@return the password, or null for none; never print it} */
    String password() {
        return password;
    }

    int database() {
        return database;
    }

    String namespace() {
        return namespace;
    }

    /** {@return the most connections the JVM's pool for these settings opens (half of them for acquires)} */
    int poolSize() {
        return poolSize;
    }

    Duration timeout() {
        return timeout;
    }

    /** {@return {@code host:port} ({@code [v6]:port} for IPv6), for every message about the server} */
    String endpoint() {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }

    /** {@return where the worker IDs live, for messages: {@code redis 127.0.0.1:6379 db 0 namespace ekko}} */
    String where() {
        return (tls ? "rediss " : "redis ") + endpoint() + (database != 0 ? " db " + database : "") + " namespace " + namespace;
    }

    @Override
    public String toString() {
        return "RedisSettings{endpoint=" + endpoint() + ", tls=" + tls + ", user=" + (user == null ? "(default)" : user)
                + ", password=" + (password == null ? "(none)" : "***") + ", database=" + database + ", namespace=" + namespace
                + ", timeout=" + timeout.toMillis() + "ms}";
    }
}
