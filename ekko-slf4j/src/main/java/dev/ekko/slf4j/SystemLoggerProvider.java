package dev.ekko.slf4j;

import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.slf4j.ILoggerFactory;
import org.slf4j.IMarkerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.helpers.BasicMarkerFactory;
import org.slf4j.helpers.NOPMDCAdapter;
import org.slf4j.spi.MDCAdapter;
import org.slf4j.spi.SLF4JServiceProvider;

/**
 * Routes the SLF4J logging of a back end's libraries (jedis, HikariCP) to {@link System.Logger} (where Ekko itself
 * logs), but only when the application has no SLF4J provider of its own. Without any provider SLF4J prints a three-line
 * "No SLF4J providers were found" warning at the first log call and drops every message; with this one, the libraries'
 * messages keep their logger names ({@code redis.clients.jedis...}, {@code com.zaxxer.hikari...}) and follow the
 * application's {@code java.util.logging} (or other {@code System.LoggerFinder}) configuration, like Ekko's. One copy
 * serves every back end: each calls {@link #installIfNoneFound()} when it creates an allocator.
 *
 * <p>Not registered with {@link ServiceLoader}: an application's own provider (Logback, Log4j 2, slf4j-simple...)
 * always wins, and no "multiple providers" warning can come from Ekko. {@link #installIfNoneFound()} names this class
 * in SLF4J's {@code slf4j.provider} system property only if that property is unset and no provider is found, lets
 * SLF4J initialise with it, and removes the property again.
 */
public final class SystemLoggerProvider implements SLF4JServiceProvider {

    /** SLF4J's system property naming a provider class explicitly (SLF4J 2.0.9 and later). */
    static final String PROVIDER_PROPERTY = "slf4j.provider";
    /** SLF4J's system property for the level of its own status messages (SLF4J 2.0.10 and later). */
    static final String VERBOSITY_PROPERTY = "slf4j.internal.verbosity";

    private final IMarkerFactory markers = new BasicMarkerFactory();
    private final MDCAdapter mdc = new NOPMDCAdapter();
    private final ILoggerFactory loggers = new ILoggerFactory() {
        private final ConcurrentMap<String, Logger> byName = new ConcurrentHashMap<>();

        @Override
        public Logger getLogger(String name) {
            return byName.computeIfAbsent(name, SystemLoggerAdapter::new);
        }
    };

    /** Called reflectively by SLF4J. */
    public SystemLoggerProvider() {
    }

    /**
     * Names this provider in {@code slf4j.provider} when the property is unset and SLF4J would find no provider. Call
     * before the back end's libraries log for the first time; without effect once SLF4J has initialised.
     */
    public static void installIfNoneFound() {
        try {
            if (System.getProperty(PROVIDER_PROPERTY) != null) {
                return;
            }
            boolean found = ServiceLoader.load(SLF4JServiceProvider.class, LoggerFactory.class.getClassLoader()).iterator().hasNext();
            if (found) {
                return;
            }
            // SLF4J reports an explicitly named provider with an INFO line on stderr; its own warnings and errors still
            // show. Both properties are set only for SLF4J's initialisation, done here, and removed again.
            boolean quiet = System.getProperty(VERBOSITY_PROPERTY) == null;
            System.setProperty(PROVIDER_PROPERTY, SystemLoggerProvider.class.getName());
            if (quiet) {
                System.setProperty(VERBOSITY_PROPERTY, "WARN");
            }
            try {
                LoggerFactory.getILoggerFactory();
            } finally {
                System.clearProperty(PROVIDER_PROPERTY);
                if (quiet) {
                    System.clearProperty(VERBOSITY_PROPERTY);
                }
            }
        } catch (ServiceConfigurationError | SecurityException e) {
            // leave SLF4J to its own devices
        }
    }

    @Override
    public ILoggerFactory getLoggerFactory() {
        return loggers;
    }

    @Override
    public IMarkerFactory getMarkerFactory() {
        return markers;
    }

    @Override
    public MDCAdapter getMDCAdapter() {
        return mdc;
    }

    @Override
    public String getRequestedApiVersion() {
        return "2.0.99";
    }

    @Override
    public void initialize() {
        // nothing to set up: loggers are created on demand
    }
}
