package dev.ekko.bench;

import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Keeps Ekko's start and stop lines out of JMH's output: benchmarks start a generator every iteration.
 * Warnings still show.
 */
final class Quiet {

    /** Held so the level is not lost when java.util.logging drops an unreferenced logger. */
    private static final Logger EKKO = Logger.getLogger("dev.ekko");

    private Quiet() {
    }

    static void ekkoLogs() {
        EKKO.setLevel(Level.WARNING);
    }
}
