package dev.ekko.internal;

import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Locale;

/** Parsing of configuration values, with messages that name the key, the value and what is allowed. */
public final class Values {

    private Values() {
    }

    /**
     * @param key the configuration key, for the message
     * @param text e.g. {@code 3s}, {@code 500ms}, {@code 2m}, {@code 1h} or ISO-8601 {@code PT3S}
     * @return the duration
     * @throws IllegalArgumentException naming key and value
     */
    public static Duration duration(String key, String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        // 1 to 12 ASCII digits, optional whitespace, a unit: scanned by hand, since compiling a regular expression costs a
        // cold start about a millisecond
        int digits = 0;
        while (digits < t.length() && t.charAt(digits) >= '0' && t.charAt(digits) <= '9') {
            digits++;
        }
        int unit = digits;
        while (unit < t.length() && isRegexSpace(t.charAt(unit))) {
            unit++;
        }
        if (digits >= 1 && digits <= 12) {
            long n = Long.parseLong(t.substring(0, digits));
            switch (t.substring(unit)) {
                case "ms": return Duration.ofMillis(n);
                case "s": return Duration.ofSeconds(n);
                case "m": return Duration.ofMinutes(n);
                case "h": return Duration.ofHours(n);
                default: break;
            }
        }
        try {
            return Duration.parse(text.trim());
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("must be a duration such as 500ms, 3s, 2m, 1h or PT3S: " + key + "=" + text, e);
        }
    }

    /** {@return whether {@code c} is whitespace as a regular expression's {@code \\s} means it: space, tab, line breaks} */
    private static boolean isRegexSpace(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == 0x0B || c == '\f' || c == '\r';
    }

    /**
     * @param key the configuration key
     * @param text a decimal integer
     * @param min smallest allowed
     * @param max largest allowed
     * @return the value
     */
    public static int integer(String key, String text, int min, int max) {
        long v;
        try {
            v = Long.parseLong(text.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("must be an integer >= " + min + " && <= " + max + ": " + key + "=" + text, e);
        }
        if (v < min || v > max) {
            throw new IllegalArgumentException("must be >= " + min + " && <= " + max + ": " + key + "=" + text);
        }
        return (int) v;
    }

    /**
     * @param key the configuration key
     * @param text {@code true} or {@code false}
     * @return the value
     */
    public static boolean bool(String key, String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        if (t.equals("true")) {
            return true;
        }
        if (t.equals("false")) {
            return false;
        }
        throw new IllegalArgumentException("must be true or false: " + key + "=" + text);
    }

    /**
     * @param key the configuration key
     * @param text an ISO-8601 instant in UTC ({@code 2026-01-01T00:00:00Z}) or a date ({@code 2026-01-01}, taken as UTC midnight)
     * @return the instant
     */
    public static Instant instant(String key, String text) {
        String t = text.trim();
        try {
            if (t.length() == 10) {
                return Instant.parse(t + "T00:00:00Z");
            }
            return Instant.parse(t);
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("must be an ISO-8601 UTC instant such as 2026-01-01T00:00:00Z or a date such as 2026-01-01: "
                    + key + "=" + text, e);
        }
    }

    /**
     * @param key the configuration key
     * @param d the duration
     * @param min smallest allowed
     * @param max largest allowed
     * @return {@code d}
     */
    public static Duration checkDuration(String key, Duration d, Duration min, Duration max) {
        if (d == null) {
            throw new IllegalArgumentException("must not be null: " + key);
        }
        if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
            throw new IllegalArgumentException("must be >= " + format(min) + " && <= " + format(max) + ": " + key + "=" + format(d));
        }
        return d;
    }

    /** {@return the duration in nanoseconds, Long.MAX_VALUE for one too long to hold (about 292 years)} */
    static long saturatedNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    /** {@return a short human form: {@code 3s}, {@code 250ms}, {@code 2m}...} */
    public static String format(Duration d) {
        if (d.abs().compareTo(Duration.ofDays(365_000)) > 0) {
            return d.toString();
        }
        long ms = d.toMillis();
        if (ms % 3_600_000 == 0 && ms != 0) {
            return ms / 3_600_000 + "h";
        }
        if (ms % 60_000 == 0 && ms != 0) {
            return ms / 60_000 + "m";
        }
        if (ms % 1000 == 0) {
            return ms / 1000 + "s";
        }
        return ms + "ms";
    }

    /** {@return true if a key's value is a secret that must never be printed} */
    public static boolean isSecretKey(String key) {
        String k = key.toLowerCase(Locale.ROOT);
        return k.contains("password") || k.contains("secret") || k.contains("token");
    }

    /**
     * @param key a configuration key
     * @param value its value
     * @return the value fit to print: {@code ***} for a secret key; a URI with its password replaced by {@code ***}
     */
    public static String printable(String key, String value) {
        if (isSecretKey(key)) {
            return "***";
        }
        // user:password@ between the scheme and the last '@' (a password may hold '@' or '/' if badly encoded)
        int scheme = value.indexOf(':');
        int at = value.lastIndexOf('@');
        if (scheme < 0 || at < scheme) {
            return value;
        }
        int start = value.startsWith("//", scheme + 1) ? scheme + 3 : scheme + 1;
        String userInfo = value.substring(start, at);
        int colon = userInfo.indexOf(':');
        return value.substring(0, start) + (colon >= 0 ? userInfo.substring(0, colon + 1) : "") + "***" + value.substring(at);
    }
}
