package dev.ekko.internal;

import java.text.MessageFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Collects what a {@code java.util.logging} logger publishes, for tests that check what Ekko logs (its {@code System.Logger}s
 * route to JUL when no other back end is installed). {@link #close()} puts the logger's level and parent handlers back as
 * they were and detaches.
 */
public final class LogCapture extends Handler implements AutoCloseable {

    private final Logger logger;
    private final Level savedLevel;
    private final boolean savedUseParentHandlers;
    private final List<LogRecord> records = new CopyOnWriteArrayList<>();

    private LogCapture(String name, Level level, boolean quiet) {
        logger = Logger.getLogger(name);
        savedLevel = logger.getLevel();
        savedUseParentHandlers = logger.getUseParentHandlers();
        logger.setLevel(level);
        if (quiet) {
            logger.setUseParentHandlers(false);
        }
        logger.addHandler(this);
    }

    /**
     * Captures a logger's records at a level, still passing them to its parents' handlers (the console).
     *
     * @param name the logger, for example {@code dev.ekko}
     * @param level the level set while capturing (the level it had is restored by {@link #close()})
     * @return the capture, attached
     */
    public static LogCapture of(String name, Level level) {
        return new LogCapture(name, level, false);
    }

    /** Like {@link #of}, but the records go to this capture only, not to the console. */
    public static LogCapture quiet(String name, Level level) {
        return new LogCapture(name, level, true);
    }

    /** {@return the level the logger had before this capture set its own} */
    public Level savedLevel() {
        return savedLevel;
    }

    /** {@return the records published so far, in order} */
    public List<LogRecord> records() {
        return List.copyOf(records);
    }

    /** {@return the messages published so far at a level, with their parameters filled in} */
    public List<String> messages(Level level) {
        return records.stream().filter(r -> r.getLevel() == level).map(LogCapture::text).toList();
    }

    /** {@return every message published so far, with its parameters filled in} */
    public List<String> messages() {
        return records.stream().map(LogCapture::text).toList();
    }

    /** Forgets what was captured so far. */
    public void clear() {
        records.clear();
    }

    private static String text(LogRecord r) {
        return r.getParameters() == null ? r.getMessage() : MessageFormat.format(r.getMessage(), r.getParameters());
    }

    @Override
    public void publish(LogRecord r) {
        records.add(r);
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
        logger.removeHandler(this);
        logger.setLevel(savedLevel);
        logger.setUseParentHandlers(savedUseParentHandlers);
    }
}
