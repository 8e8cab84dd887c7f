package dev.ekko.testsupport;

import java.util.List;

/** Reads and rewrites {@code jdbc:mysql://} and {@code jdbc:mariadb://} URLs without a driver. */
final class MysqlUrls {
    private static final List<String> PREFIXES = List.of("jdbc:mysql://", "jdbc:mariadb://");

    private MysqlUrls() {
    }

    /** Whether the URL has a MySQL or MariaDB JDBC scheme and a non-empty host part. */
    static boolean isMysqlUrl(String url) {
        String prefix = prefixOf(url);
        return prefix != null && authorityEnd(url, prefix) > prefix.length();
    }

    /**
     * The same URL with its database replaced by (or set to) {@code database}, keeping host and
     * parameters: {@code jdbc:mysql://h:1/a?x=y} with {@code b} gives {@code jdbc:mysql://h:1/b?x=y}.
     */
    static String withDatabase(String url, String database) {
        String prefix = prefixOf(url);
        if (prefix == null) {
            throw new IllegalArgumentException("must start with one of " + PREFIXES + ": url=" + url);
        }
        int authorityEnd = authorityEnd(url, prefix);
        int queryStart = url.indexOf('?', authorityEnd);
        String query = queryStart < 0 ? "" : url.substring(queryStart);
        return url.substring(0, authorityEnd) + "/" + database + query;
    }

    private static String prefixOf(String url) {
        for (String prefix : PREFIXES) {
            if (url.regionMatches(true, 0, prefix, 0, prefix.length())) {
                return prefix;
            }
        }
        return null;
    }

    private static int authorityEnd(String url, String prefix) {
        for (int i = prefix.length(); i < url.length(); i++) {
            char c = url.charAt(i);
            if (c == '/' || c == '?') {
                return i;
            }
        }
        return url.length();
    }
}
