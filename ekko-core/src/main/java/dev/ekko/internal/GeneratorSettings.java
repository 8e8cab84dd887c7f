package dev.ekko.internal;

import dev.ekko.EkkoClock;
import dev.ekko.Layout;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The validated, sealed configuration of one generator.
 *
 * @param layout the bit layout
 * @param idc datacenter
 * @param product the default product of {@code next()}
 * @param clock wall and monotonic clock
 * @param stateDir directory of the state files
 * @param allocatorName the allocator's name, for logs
 * @param maxBackwardWait how long {@code next()} waits for a clock behind the last issued millisecond
 * @param maxLead the bounded lead of the logical clock; zero for real-time mode
 * @param reservation how far ahead time is reserved in the state file and reported
 * @param reportInterval how often the lease is renewed and the clock reported
 * @param maxSkew the tolerated clock difference to the coordinator
 * @param leaseMargin how long before the lease's expiry the generator stops issuing
 * @param instance the instance name
 * @param host the host name
 * @param pid the process ID
 */
public record GeneratorSettings(Layout layout, int idc, int product, EkkoClock clock, Path stateDir, String allocatorName,
        Duration maxBackwardWait, Duration maxLead, Duration reservation, Duration reportInterval, Duration maxSkew,
        Duration leaseMargin, String instance, String host, long pid) {
}
