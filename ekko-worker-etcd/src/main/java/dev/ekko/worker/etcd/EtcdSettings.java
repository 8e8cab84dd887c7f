package dev.ekko.worker.etcd;

import dev.ekko.spi.AllocatorContext;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The etcd allocator's configuration, parsed and checked once, then sealed. The password appears nowhere: not in
 * {@link #toString()}, not in any message this class makes.
 */
final class EtcdSettings {

    static final String ENDPOINTS_KEY = "ekko.etcd.endpoints";
    static final String USER_KEY = "ekko.etcd.user";
    static final String PASSWORD_KEY = "ekko.etcd.password";
    static final String NAMESPACE_KEY = "ekko.etcd.namespace";
    static final String TIMEOUT_KEY = "ekko.etcd.timeout";
    static final String TLS_CA_KEY = "ekko.etcd.tls.ca";

    /** Every key the allocator reads. */
    static final Set<String> KEYS = Set.of(ENDPOINTS_KEY, USER_KEY, PASSWORD_KEY, NAMESPACE_KEY, TIMEOUT_KEY, TLS_CA_KEY);

    static final String DEFAULT_NAMESPACE = "ekko";
    static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(2);
    static final Duration MIN_TIMEOUT = Duration.ofMillis(100);
    static final Duration MAX_TIMEOUT = Duration.ofMinutes(1);

    /** Printable ASCII without blanks; the allocator's keys are {@code <namespace>/idc<d>/...}. */
    private static final Pattern NAMESPACE = Pattern.compile("[!-~]{1,100}");
    private static final String ENDPOINT_FORM = "http://host:port or https://host:port, comma-separated (one per member)";

    private final List<URI> endpoints;
    private final String user;
    private final String password;
    private final String namespace;
    private final Duration timeout;
    private final Path tlsCa;

    private EtcdSettings(List<URI> endpoints, String user, String password, String namespace, Duration timeout, Path tlsCa) {
        this.endpoints = List.copyOf(endpoints);
        this.user = user;
        this.password = password;
        this.namespace = namespace;
        this.timeout = timeout;
        this.tlsCa = tlsCa;
    }

    /**
     * @param context the allocator's context, whose settings hold {@code ekko.etcd.*}
     * @return the parsed settings
     * @throws IllegalArgumentException naming the key and its value (never a password) if a value is missing or malformed
     */
    static EtcdSettings from(AllocatorContext context) {
        String raw = context.requireSetting(ENDPOINTS_KEY, "the etcd members to lease worker IDs from, " + ENDPOINT_FORM);
        List<URI> endpoints = new ArrayList<>();
        String scheme = null;
        for (String part : raw.split(",", -1)) {
            String e = part.strip();
            if (e.isEmpty()) {
                throw new IllegalArgumentException("must be " + ENDPOINT_FORM + ", without empty entries: " + ENDPOINTS_KEY + "="
                        + shown(raw));
            }
            URI uri;
            try {
                uri = new URI(e);
            } catch (URISyntaxException x) {
                throw new IllegalArgumentException("must be " + ENDPOINT_FORM + ": " + ENDPOINTS_KEY + "=" + shown(raw) + " (bad entry "
                        + shown(e) + ")");
            }
            String s = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
            if (!s.equals("http") && !s.equals("https")) {
                throw new IllegalArgumentException("must be " + ENDPOINT_FORM + " (scheme http or https): " + ENDPOINTS_KEY + "="
                        + shown(raw));
            }
            if (uri.getRawUserInfo() != null) {
                throw new IllegalArgumentException("must not carry credentials: set " + USER_KEY + " and " + PASSWORD_KEY + " instead: "
                        + ENDPOINTS_KEY + "=" + shown(raw));
            }
            if (uri.getHost() == null || uri.getPort() < 1 || uri.getPort() > 65535) {
                throw new IllegalArgumentException("must name a host and a port (etcd's client port is usually 2379), as in "
                        + ENDPOINT_FORM + ": " + ENDPOINTS_KEY + "=" + shown(raw));
            }
            if ((uri.getRawPath() != null && !uri.getRawPath().isEmpty() && !uri.getRawPath().equals("/")) || uri.getRawQuery() != null
                    || uri.getRawFragment() != null) {
                throw new IllegalArgumentException("must be only scheme, host and port, as in " + ENDPOINT_FORM + ": " + ENDPOINTS_KEY
                        + "=" + shown(raw));
            }
            if (scheme != null && !scheme.equals(s)) {
                throw new IllegalArgumentException("must all use one scheme, http or https: " + ENDPOINTS_KEY + "=" + shown(raw));
            }
            scheme = s;
            endpoints.add(URI.create(s + "://" + uri.getRawAuthority()));
        }
        String user = context.setting(USER_KEY).map(String::strip).filter(u -> !u.isEmpty()).orElse(null);
        String password = context.setting(PASSWORD_KEY).filter(p -> !p.isEmpty()).orElse(null);
        if ((user == null) != (password == null)) {
            throw new IllegalArgumentException("must be set together: " + USER_KEY + " and " + PASSWORD_KEY + " (" + (user == null
                    ? USER_KEY + " is missing" : PASSWORD_KEY + " is missing") + ")");
        }
        String namespace = context.setting(NAMESPACE_KEY).map(String::strip).orElse(DEFAULT_NAMESPACE);
        if (!NAMESPACE.matcher(namespace).matches()) {
            throw new IllegalArgumentException("must be 1 to 100 printable ASCII characters without blanks: " + NAMESPACE_KEY + "=\""
                    + namespace + "\"");
        }
        Duration timeout = context.durationSetting(TIMEOUT_KEY, DEFAULT_TIMEOUT);
        if (timeout.compareTo(MIN_TIMEOUT) < 0 || timeout.compareTo(MAX_TIMEOUT) > 0) {
            throw new IllegalArgumentException("must be >= 100ms && <= 1m: " + TIMEOUT_KEY + "=" + context.setting(TIMEOUT_KEY).orElse(""));
        }
        Path ca = null;
        if (context.setting(TLS_CA_KEY).isPresent()) {
            ca = Path.of(context.setting(TLS_CA_KEY).get().strip());
            if (!"https".equals(scheme)) {
                throw new IllegalArgumentException("is for https:// endpoints only: " + TLS_CA_KEY + "=" + ca + " with " + ENDPOINTS_KEY
                        + "=" + shown(raw));
            }
            if (!Files.isReadable(ca)) {
                throw new IllegalArgumentException("must be a readable PEM file of the CA certificates that signed the members': "
                        + TLS_CA_KEY + "=" + ca);
            }
        }
        return new EtcdSettings(endpoints, user, password, namespace, timeout, ca);
    }

    /** A value as shown in a message: a password never reaches here, but an endpoint with user info would, so hide it. */
    private static String shown(String value) {
        return value.replaceAll("//[^/@,]*@", "//***@");
    }

    List<URI> endpoints() {
        return endpoints;
    }

    String user() {
        return user;
    }

    /** {@return the password, or null for none; never print it} */
    String password() {
        return password;
    }

    String namespace() {
        return namespace;
    }

    Duration timeout() {
        return timeout;
    }

    /** {@return the CA certificates file for https endpoints, or null for the JVM's trust store} */
    Path tlsCa() {
        return tlsCa;
    }

    boolean tls() {
        return endpoints.get(0).getScheme().equals("https");
    }

    /** {@return where the worker IDs live, for messages: {@code etcd http://a:2379,http://b:2379 namespace ekko}} */
    String where() {
        StringBuilder b = new StringBuilder("etcd ");
        for (int i = 0; i < endpoints.size(); i++) {
            b.append(i == 0 ? "" : ",").append(endpoints.get(i));
        }
        return b.append(" namespace ").append(namespace).toString();
    }

    @Override
    public String toString() {
        return "EtcdSettings{endpoints=" + endpoints + ", user=" + (user == null ? "(none)" : user) + ", password="
                + (password == null ? "(none)" : "***") + ", namespace=" + namespace + ", timeout=" + timeout.toMillis() + "ms"
                + (tlsCa == null ? "" : ", tls.ca=" + tlsCa) + "}";
    }
}
