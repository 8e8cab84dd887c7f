package dev.ekko.testkit;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A child-process main for module-path tests of a back end (the command line lives in ekko-cli): builds a generator from
 * system properties and the environment and prints {@code args[0]} IDs, one per line. It runs from the class path (the
 * testkit's own jar) while the core and the back end run on the module path, so the test shows that the back end's module
 * descriptor is real: with only the core as root module, service binding finds the allocator through {@code provides}, and
 * the descriptor's {@code requires} bring what the allocator needs.
 */
public final class NextIds {

    private NextIds() {
    }

    /**
     * Prints IDs.
     *
     * @param args how many IDs
     */
    public static void main(String[] args) {
        try (IdGenerator ids = Ekko.newBuilder().environment().build()) {
            for (int i = 0; i < Integer.parseInt(args[0]); i++) {
                System.out.println(Layout.format(ids.next()));
            }
        }
    }

    /**
     * The settings of a short-lived child on a back end: the allocator, a 1 s lease (margin 100 ms, renewals every 200 ms,
     * reservation 1 s, max skew 100 ms), so that a first start with no history waits about a second, and the state directory.
     * The caller adds the back end's own keys.
     *
     * @param allocator the allocator name, e.g. {@code redis}
     * @param stateDir the child's state directory
     * @return a mutable map, in a stable order
     */
    public static Map<String, String> shortLeaseSettings(String allocator, Path stateDir) {
        Map<String, String> settings = new java.util.LinkedHashMap<>();
        settings.put("ekko.worker.allocator", allocator);
        settings.put("ekko.worker.lease.ttl", "1s");
        settings.put("ekko.worker.lease.margin", "100ms");
        settings.put("ekko.worker.report.interval", "200ms");
        settings.put("ekko.state.reservation", "1s");
        settings.put("ekko.clock.max.skew", "100ms");
        settings.put("ekko.state.dir", stateDir.toString());
        return settings;
    }

    /**
     * The command that runs this main in a new JVM: the calling test JVM's class path, without its test-only entries (test
     * classes, JUnit, the test support modules, SLF4J providers, Surefire), becomes the module path; only
     * {@code dev.ekko.core} is a root module; this class comes from the class path.
     *
     * @param properties system properties for the child ({@code -Dkey=value}): the generator's settings
     * @param count how many IDs it prints
     * @return the command, ready for a {@link ProcessBuilder}
     */
    public static List<String> modulePathCommand(Map<String, String> properties, int count) {
        List<String> modulePath = new ArrayList<>();
        String testkit = null;
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            String name = Path.of(entry).getFileName().toString();
            if (entry.contains("ekko-testkit")) {
                testkit = entry;
                continue;
            }
            boolean testOnly = entry.endsWith("test-classes") || name.endsWith("-tests.jar") || name.startsWith("junit-")
                    || name.startsWith("opentest4j-") || name.startsWith("apiguardian-") || entry.contains("test-support")
                    || name.startsWith("slf4j-simple-") || name.startsWith("surefire");
            if (!testOnly) {
                modulePath.add(entry);
            }
        }
        if (testkit == null) {
            throw new IllegalStateException("ekko-testkit is not on this JVM's class path: " + System.getProperty("java.class.path"));
        }
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--module-path",
                String.join(File.pathSeparator, modulePath), "--add-modules", "dev.ekko.core", "-cp", testkit));
        properties.forEach((k, v) -> cmd.add("-D" + k + "=" + v));
        cmd.add(NextIds.class.getName());
        cmd.add(Integer.toString(count));
        return cmd;
    }
}
