package dev.ekko.testsupport;

import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Names that keep one test class's state apart from every other class's, and from other runs
 * sharing the same server: the class name for people reading a server, a random token for
 * uniqueness.
 */
final class TestNames {
    /** MySQL allows 64 characters in a database name; this leaves room for the prefix and token. */
    private static final int MAX_CLASS_PART_IN_DATABASE_NAME = 40;

    private TestNames() {
    }

    /** Eight random lower-case hex digits. */
    static String randomToken() {
        return String.format(Locale.ROOT, "%08x", ThreadLocalRandom.current().nextInt());
    }

    /** {@code ekko-test:<ClassName>:<token>:} */
    static String redisKeyPrefix(Class<?> testClass, String token) {
        return "ekko-test:" + className(testClass) + ":" + token + ":";
    }

    /** {@code /ekko-test/<ClassName>/<token>/} */
    static String etcdKeyPrefix(Class<?> testClass, String token) {
        return "/ekko-test/" + className(testClass) + "/" + token + "/";
    }

    /**
     * {@code ekko_<classname>_<token>}: lower case, only {@code [a-z0-9_]}, at most 54 characters,
     * so it needs no quoting anywhere and matches a grant on {@code `ekko\_%`.*}.
     */
    static String databaseName(Class<?> testClass, String token) {
        String classPart = className(testClass).toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "_");
        if (classPart.length() > MAX_CLASS_PART_IN_DATABASE_NAME) {
            classPart = classPart.substring(0, MAX_CLASS_PART_IN_DATABASE_NAME);
        }
        return "ekko_" + classPart + "_" + token;
    }

    /** The binary name without its package: {@code Outer$Inner} for a nested class. */
    static String className(Class<?> testClass) {
        String name = testClass.getName();
        return name.substring(name.lastIndexOf('.') + 1);
    }
}
