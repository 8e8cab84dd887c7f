package dev.ekko.slf4j;

import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.LegacyAbstractLogger;
import org.slf4j.helpers.MessageFormatter;

/** One SLF4J logger that writes to the {@link System.Logger} of the same name. */
final class SystemLoggerAdapter extends LegacyAbstractLogger {

    private static final long serialVersionUID = 1L;

    private final transient System.Logger target;

    SystemLoggerAdapter(String name) {
        this.name = name;
        this.target = System.getLogger(name);
    }

    @Override
    public boolean isTraceEnabled() {
        return target.isLoggable(System.Logger.Level.TRACE);
    }

    @Override
    public boolean isDebugEnabled() {
        return target.isLoggable(System.Logger.Level.DEBUG);
    }

    @Override
    public boolean isInfoEnabled() {
        return target.isLoggable(System.Logger.Level.INFO);
    }

    @Override
    public boolean isWarnEnabled() {
        return target.isLoggable(System.Logger.Level.WARNING);
    }

    @Override
    public boolean isErrorEnabled() {
        return target.isLoggable(System.Logger.Level.ERROR);
    }

    @Override
    protected String getFullyQualifiedCallerName() {
        return null;
    }

    @Override
    protected void handleNormalizedLoggingCall(Level level, Marker marker, String pattern, Object[] arguments, Throwable throwable) {
        String message = MessageFormatter.basicArrayFormat(pattern, arguments);
        System.Logger.Level to;
        switch (level) {
            case ERROR: to = System.Logger.Level.ERROR; break;
            case WARN: to = System.Logger.Level.WARNING; break;
            case INFO: to = System.Logger.Level.INFO; break;
            case DEBUG: to = System.Logger.Level.DEBUG; break;
            default: to = System.Logger.Level.TRACE; break;
        }
        if (throwable == null) {
            target.log(to, message);
        } else {
            target.log(to, message, throwable);
        }
    }
}
