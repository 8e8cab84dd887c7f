package dev.ekko.probe;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import dev.ekko.Layout;

/**
 * A child-process main for the core's own tests (the command line lives in ekko-cli): builds a generator from
 * the environment and system properties, prints {@code args[0]} IDs (default 1), one per line. A bad setting
 * prints {@code ekko: <message>} and exits 2. In its own package, so it can run from the class path while the
 * core is on the module path (the core's packages there hide class-path classes of the same package).
 */
public final class NextIds {

    private NextIds() {
    }

    public static void main(String[] args) {
        int count = args.length > 0 ? Integer.parseInt(args[0]) : 1;
        try (IdGenerator ids = Ekko.newBuilder().environment().build()) {
            for (int i = 0; i < count; i++) {
                System.out.println(Layout.format(ids.next()));
            }
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("ekko: " + e.getMessage());
            System.exit(2);
        }
    }
}
