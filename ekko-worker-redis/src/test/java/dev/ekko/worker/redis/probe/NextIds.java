package dev.ekko.worker.redis.probe;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import dev.ekko.Layout;

/**
 * A child-process main for {@code ModulePathIT} (the command line lives in ekko-cli): builds a generator from
 * system properties and the environment, prints {@code args[0]} IDs, one per line. In a package of its own, outside
 * the module, so it can run from the class path while the module is on the module path.
 */
public final class NextIds {

    private NextIds() {
    }

    public static void main(String[] args) {
        try (IdGenerator ids = Ekko.newBuilder().environment().build()) {
            for (int i = 0; i < Integer.parseInt(args[0]); i++) {
                System.out.println(Layout.format(ids.next()));
            }
        }
    }
}
