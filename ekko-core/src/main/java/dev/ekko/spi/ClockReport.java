package dev.ekko.spi;

/**
 * What a worker tells its coordinator at every renewal (every 3 s by default) and on release.
 *
 * @param localTimeMillis the worker's wall clock when it made the report, Unix milliseconds
 * @param reservedUntilMillis the latest millisecond the worker may issue IDs in, Unix milliseconds:
 *     the next holder of the worker ID starts past it. On release it is the last millisecond actually used.
 * @param host the worker's host name
 * @param pid the worker's process ID
 * @param instance the worker's instance name (configured, or the host name)
 */
public record ClockReport(long localTimeMillis, long reservedUntilMillis, String host, long pid, String instance) {
}
