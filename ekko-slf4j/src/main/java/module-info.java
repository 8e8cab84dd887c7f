/**
 * Ekko's bridge from SLF4J to {@link System.Logger}, installed by the back ends only when the application has no SLF4J
 * provider of its own (see {@link dev.ekko.slf4j.SystemLoggerProvider}). SLF4J instantiates the provider by name, and
 * the back ends call {@code installIfNoneFound}, so the package is exported.
 */
module dev.ekko.slf4j {
    requires transitive org.slf4j; // its public types are SLF4J's (the provider implements SLF4J's SPI)

    exports dev.ekko.slf4j;
    uses org.slf4j.spi.SLF4JServiceProvider;
}
