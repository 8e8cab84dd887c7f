package dev.ekko.worker.mysql;

import dev.ekko.spi.AllocatorContext;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code ekko.mysql.*} settings, parsed and checked. {@link #toString()} and every message mask the password,
 * whether it was given by {@code ekko.mysql.password} or inside the URL.
 */
final class MysqlSettings {

    static final String URL_KEY = "ekko.mysql.url";
    static final String USER_KEY = "ekko.mysql.user";
    static final String PASSWORD_KEY = "ekko.mysql.password";
    static final String TABLE_KEY = "ekko.mysql.table";
    static final String NAMESPACE_KEY = "ekko.mysql.namespace";
    static final String POOL_SIZE_KEY = "ekko.mysql.pool.size";
    static final String TIMEOUT_KEY = "ekko.mysql.timeout";

    /** Every key the allocator reads. */
    static final Set<String> KEYS = Set.of(URL_KEY, USER_KEY, PASSWORD_KEY, TABLE_KEY, NAMESPACE_KEY, POOL_SIZE_KEY, TIMEOUT_KEY);
    /** The keys a provider on an application's own DataSource reads (no URL, credentials or pool). */
    static final Set<String> DATA_SOURCE_KEYS = Set.of(TABLE_KEY, NAMESPACE_KEY, TIMEOUT_KEY);

    static final String DEFAULT_TABLE = "ekko_worker_ids";
    static final String DEFAULT_NAMESPACE = "ekko";
    static final int DEFAULT_POOL_SIZE = 2;
    /** A pool is shared by every allocator of a JVM with the same connection settings: a process may run thousands. */
    static final int MAX_POOL_SIZE = 64;
    static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(2);
    /** HikariCP refuses a connection timeout below 250 ms. */
    static final Duration MIN_TIMEOUT = Duration.ofMillis(250);
    static final Duration MAX_TIMEOUT = Duration.ofMinutes(1);

    /** Letters, digits and underscore, starting with a letter; 48 at most, so that {@code _settings} still fits in 64. */
    private static final Pattern TABLE = Pattern.compile("[A-Za-z][A-Za-z0-9_]{0,47}");
    private static final Pattern NAMESPACE = Pattern.compile("[!-~]{1,100}");
    private static final String URL_FORM = "jdbc:mysql://host[:port]/database[?property=value&...]";
    /** {@code password=...} (also {@code password1=}, {@code xdevapi.password=}...) in a JDBC URL's properties. */
    private static final Pattern URL_PASSWORD = Pattern.compile("(?i)([?&;]\\s*[a-z0-9.]*password[0-9]?\\s*=)[^&#\\s]*");
    /** {@code (host=...,password=...)} and {@code address=(...)(password=...)}: there a value ends at {@code ,} or {@code )}. */
    private static final Pattern HOST_PASSWORD = Pattern.compile("(?i)([(,]\\s*[a-z0-9.]*password[0-9]?\\s*=)[^),]*");
    /** {@code jdbc:mysql://user:password@}: Connector/J takes everything up to the {@code @} as the password. */
    private static final Pattern USER_INFO_PASSWORD = Pattern.compile("(?i)^jdbc:mysql[a-z:+]*//[^:/@(]*:([^@/]*)@");
    /** A property's key, after what starts it: {@code ?}, {@code &}, {@code ;} (query) or {@code (}, {@code ,} (host forms). */
    private static final Pattern PROPERTY_KEY = Pattern.compile("([?&;(,])([^=?&;(),]*)=");
    /** Any key that names a password: {@code password}, {@code password1}, {@code xdevapi.password}, {@code ...KeyStorePassword}. */
    private static final Pattern PASSWORD_NAME = Pattern.compile("(?i).*password[0-9]*");
    /** {@code //user:password@host}. */
    private static final Pattern URL_USERINFO = Pattern.compile("(//[^/:@\\s]*:)[^@/\\s]*(@)");

    private final String url;
    private final String user;
    private final String password;
    private final String table;
    private final String namespace;
    private final int poolSize;
    private final Duration timeout;

    private MysqlSettings(String url, String user, String password, String table, String namespace, int poolSize,
            Duration timeout) {
        this.url = url;
        this.user = user;
        this.password = password;
        this.table = table;
        this.namespace = namespace;
        this.poolSize = poolSize;
        this.timeout = timeout;
    }

    /**
     * Parses the settings of a provider that builds its own pool.
     *
     * @param context the allocator's context, whose settings hold {@code ekko.mysql.*}
     * @return the parsed settings
     * @throws IllegalArgumentException naming the key, its value (password masked) and what is allowed
     */
    static MysqlSettings from(AllocatorContext context) {
        String password = context.setting(PASSWORD_KEY).filter(p -> !p.isEmpty()).orElse(null);
        String rawUrl = context.requireSetting(URL_KEY, "the MySQL or MariaDB database to lease worker IDs from, " + URL_FORM).trim();
        String shown = mask(rawUrl, hidden(password, rawUrl));
        if (!rawUrl.toLowerCase(Locale.ROOT).startsWith("jdbc:mysql://")) {
            throw new IllegalArgumentException("must be a MySQL Connector/J URL " + URL_FORM + " (MariaDB servers too): " + URL_KEY
                    + "=" + shown);
        }
        String rest = rawUrl.substring("jdbc:mysql://".length());
        int slash = rest.indexOf('/');
        String hostPart = slash < 0 ? rest : rest.substring(0, slash);
        if (hostPart.isEmpty() || hostPart.startsWith("?")) {
            throw new IllegalArgumentException("must name a host, as in " + URL_FORM + ": " + URL_KEY + "=" + shown);
        }
        String afterSlash = slash < 0 ? "" : rest.substring(slash + 1);
        int q = afterSlash.indexOf('?');
        String database = q < 0 ? afterSlash : afterSlash.substring(0, q);
        if (database.isEmpty()) {
            throw new IllegalArgumentException("must name a database after the host (the tables live there), as in " + URL_FORM
                    + ": " + URL_KEY + "=" + shown);
        }
        String user = context.setting(USER_KEY).map(String::trim).filter(s -> !s.isEmpty()).orElse(null);
        int poolSize = context.intSetting(POOL_SIZE_KEY, DEFAULT_POOL_SIZE, 1, MAX_POOL_SIZE);
        Common common = common(context);
        return new MysqlSettings(rawUrl, user, password, common.table, common.namespace, poolSize, common.timeout);
    }

    /**
     * Parses the settings of a provider on an application's own data source: table, namespace and timeout.
     *
     * @param context the allocator's context
     * @return the parsed settings, without URL, user, password or pool size
     */
    static MysqlSettings forDataSource(AllocatorContext context) {
        for (String k : Set.of(URL_KEY, USER_KEY, PASSWORD_KEY, POOL_SIZE_KEY)) {
            if (context.setting(k).isPresent()) {
                throw new IllegalArgumentException("must not be set when the application hands in its own DataSource"
                        + " (MysqlAllocators.provider(DataSource)): " + k + (k.equals(PASSWORD_KEY) ? "=***" : "="
                        + mask(context.setting(k).get(), hidden(null, context.setting(k).get()))));
            }
        }
        Common common = common(context);
        return new MysqlSettings(null, null, null, common.table, common.namespace, 0, common.timeout);
    }

    private record Common(String table, String namespace, Duration timeout) {
    }

    private static Common common(AllocatorContext context) {
        String table = context.setting(TABLE_KEY).map(String::trim).orElse(DEFAULT_TABLE);
        if (!TABLE.matcher(table).matches()) {
            throw new IllegalArgumentException("must be 1 to 48 letters, digits or '_', starting with a letter (the module adds"
                    + " _settings and _meta for its other tables): " + TABLE_KEY + "=\"" + table + "\"");
        }
        String namespace = context.setting(NAMESPACE_KEY).map(String::trim).orElse(DEFAULT_NAMESPACE);
        if (!NAMESPACE.matcher(namespace).matches()) {
            throw new IllegalArgumentException("must be 1 to 100 printable ASCII characters without blanks: " + NAMESPACE_KEY + "=\""
                    + namespace + "\"");
        }
        Duration timeout = context.durationSetting(TIMEOUT_KEY, DEFAULT_TIMEOUT);
        if (timeout.compareTo(MIN_TIMEOUT) < 0 || timeout.compareTo(MAX_TIMEOUT) > 0) {
            throw new IllegalArgumentException("must be >= 250ms && <= 1m: " + TIMEOUT_KEY + "=" + context.setting(TIMEOUT_KEY).orElse(""));
        }
        return new Common(table, namespace, timeout);
    }

    /**
     * {@return every password a URL carries, as Connector/J reads them, raw and percent-decoded, for literal masking}: the
     * user info's ({@code //user:password@host}, up to the {@code @}, blanks included); every property whose percent-decoded
     * key names a password ({@code password}, {@code password1}, {@code xdevapi.password}, {@code ...KeyStorePassword}), in the query (its value runs to the next {@code &}) and in the
     * host forms {@code (host=...,password=...)} and {@code address=(...)(password=...)} (to the next {@code ,} or
     * {@code )}).
     */
    static List<String> urlPasswords(String url) {
        List<String> found = new ArrayList<>();
        if (url == null) {
            return found;
        }
        Matcher userInfo = USER_INFO_PASSWORD.matcher(url);
        if (userInfo.find()) {
            addBoth(found, userInfo.group(1));
        }
        Matcher key = PROPERTY_KEY.matcher(url);
        while (key.find()) {
            if (!PASSWORD_NAME.matcher(decode(key.group(2)).strip()).matches()) {
                continue;
            }
            boolean inQuery = key.group(1).equals("?") || key.group(1).equals("&") || key.group(1).equals(";");
            int end = key.end();
            while (end < url.length() && (inQuery ? "&#".indexOf(url.charAt(end)) < 0 : ",)".indexOf(url.charAt(end)) < 0)) {
                end++;
            }
            addBoth(found, url.substring(key.end(), end));
        }
        return found;
    }

    private static void addBoth(List<String> found, String raw) {
        if (!raw.isEmpty()) {
            found.add(raw);
            found.add(decode(raw));
            found.add(decode(raw.replace("+", " ")));
        }
    }

    private static String decode(String s) {
        try {
            return java.net.URLDecoder.decode(s.replace("+", "%2B"), java.nio.charset.StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return s; // not valid percent-encoding: Connector/J takes it as it is
        }
    }

    /**
     * Hides passwords in a text.
     *
     * @param text any text that may hold a JDBC URL or a password
     * @param passwords passwords to hide wherever they appear literally (null entries ignored)
     * @return the text with the given passwords, every {@code password=...} URL property and every {@code //user:password@}
     *     replaced by {@code ***}
     */
    static String mask(String text, String... passwords) {
        if (text == null) {
            return null;
        }
        String masked = text;
        for (String p : passwords) {
            if (p != null && !p.isEmpty()) {
                masked = masked.replace(p, "***");
            }
        }
        masked = URL_PASSWORD.matcher(masked).replaceAll(m -> Matcher.quoteReplacement(m.group(1) + "***"));
        masked = HOST_PASSWORD.matcher(masked).replaceAll(m -> Matcher.quoteReplacement(m.group(1) + "***"));
        masked = URL_USERINFO.matcher(masked).replaceAll(m -> Matcher.quoteReplacement(m.group(1) + "***" + m.group(2)));
        return masked;
    }

    /** {@return the text with this configuration's password, and any URL's, hidden} */
    String masked(String text) {
        return mask(text, hidden(password, url));
    }

    private static String[] hidden(String password, String url) {
        List<String> all = new ArrayList<>(urlPasswords(url));
        all.add(password);
        // Longest first, so that a password containing another is hidden whole.
        all.removeIf(p -> p == null || p.isEmpty());
        all.sort((a, b) -> Integer.compare(b.length(), a.length()));
        return all.toArray(new String[0]);
    }

    /** {@return the JDBC URL as given; may hold a password, print {@link #shownUrl()} instead} */
    String url() {
        return url;
    }

    /** {@return the JDBC URL with any password masked} */
    String shownUrl() {
        return url == null ? "(the application's DataSource)" : masked(url);
    }

    String user() {
        return user;
    }

    /** {@return the password, or null for none; never print it} */
    String password() {
        return password;
    }

    String table() {
        return table;
    }

    String namespace() {
        return namespace;
    }

    int poolSize() {
        return poolSize;
    }

    Duration timeout() {
        return timeout;
    }

    /** {@return where the worker IDs live, for messages: {@code mysql jdbc:mysql://db:3306/ids table ekko_worker_ids namespace ekko}} */
    String where() {
        return tables() + " namespace " + namespace;
    }

    /** {@return the database and table, for messages: {@code mysql jdbc:mysql://db:3306/ids table ekko_worker_ids}} */
    String tables() {
        return "mysql " + shownUrl() + " table " + table;
    }

    @Override
    public String toString() {
        return "MysqlSettings{url=" + shownUrl() + ", user=" + (user == null ? "(the URL's)" : user) + ", password="
                + (password == null ? "(none)" : "***") + ", table=" + table + ", namespace=" + namespace + ", poolSize=" + poolSize
                + ", timeout=" + timeout.toMillis() + "ms}";
    }
}
