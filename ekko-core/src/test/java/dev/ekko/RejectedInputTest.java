package dev.ekko;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ekko.internal.Values;
import dev.ekko.spi.AllocatorContext;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every rejected input and its exact message: the message names the parameter, the bad value and
 * what is allowed. Where a boundary is rejected, the value just inside it is shown to be accepted.
 */
class RejectedInputTest {

    private static final Instant EPOCH_2026 = Instant.parse("2026-01-01T00:00:00Z");

    /** Core keys plus those of the allocators in ekko-core (host-local's ekko.hostlocal.dir, kept only to refuse it), sorted. */
    private static final String KNOWN_KEYS = "ekko.clock.max.backward.wait, ekko.clock.max.lead, ekko.clock.max.skew, ekko.epoch, "
            + "ekko.host.lock.dir, ekko.hostlocal.dir, ekko.idc, ekko.positive, ekko.product, ekko.product.bits, ekko.state.dir, ekko.state.reservation, "
            + "ekko.worker.allocator, ekko.worker.id, ekko.worker.ids, ekko.worker.instance, ekko.worker.lease.margin, ekko.worker.lease.ttl, "
            + "ekko.worker.report.interval, ekko.worker.stripes, ekko.worker.stripes.idle, ekko.worker.stripes.max";

    @TempDir
    Path stateDir;

    /** Its own host lock directory, so worker IDs do not contend with other tests or test runs on this host. */
    @TempDir
    Path hostLocks;

    // ---------------------------------------------------------------- Layout: epoch and product bits

    @Test
    void refusesNullEpoch() {
        assertRejected("must not be null: epoch", () -> Layout.unsigned(null, 0));
        assertRejected("must not be null: epoch", () -> Layout.positive(null, 0));
    }

    @Test
    void refusesEpochInTheFuture() {
        Instant tomorrow = Instant.ofEpochMilli(System.currentTimeMillis() + Duration.ofDays(1).toMillis());
        assertRejected("must not be in the future (no ID can be made before the epoch): epoch=" + tomorrow, () -> Layout.unsigned(tomorrow, 0));
        assertRejected("must not be in the future (no ID can be made before the epoch): epoch=" + tomorrow, () -> Layout.positive(tomorrow, 0));
    }

    @Test
    void refusesEpochBefore1970() {
        assertRejected("must not be before 1970-01-01T00:00:00Z: epoch=1969-12-31T23:59:59.999Z",
                () -> Layout.unsigned(Instant.parse("1969-12-31T23:59:59.999Z"), 0));
        assertRejected("must not be before 1970-01-01T00:00:00Z: epoch=1900-01-01T00:00:00Z",
                () -> Layout.positive(Instant.parse("1900-01-01T00:00:00Z"), 0));
        assertDoesNotThrow(() -> Layout.unsigned(Instant.EPOCH, 0));
    }

    @Test
    void refusesSubMillisecondEpoch() {
        assertRejected("must be a whole millisecond: epoch=2026-01-01T00:00:00.000000001Z",
                () -> Layout.unsigned(Instant.parse("2026-01-01T00:00:00.000000001Z"), 0));
        assertRejected("must be a whole millisecond: epoch=2026-01-01T00:00:00.000500Z",
                () -> Layout.positive(Instant.parse("2026-01-01T00:00:00.000500Z"), 0));
    }

    @Test
    void refusesProductBitsOutside0To4() {
        assertRejected("must be >= 0 && <= 4: productBits=-1", () -> Layout.unsigned(EPOCH_2026, -1));
        assertRejected("must be >= 0 && <= 4: productBits=5", () -> Layout.unsigned(EPOCH_2026, 5));
        assertRejected("must be >= 0 && <= 4: productBits=5", () -> Layout.positive(EPOCH_2026, 5));
        assertDoesNotThrow(() -> Layout.positive(EPOCH_2026, 4));
    }

    // ---------------------------------------------------------------- Layout: encode

    @Test
    void encodeRefusesIdcAbove7() {
        Layout layout = Layout.defaults();
        long t = layout.epochMillis();
        assertRejected("must be >= 0 && <= 7: idc=8", () -> layout.encode(t, 8, 0, 0, 0));
        assertRejected("must be >= 0 && <= 7: idc=-1", () -> layout.encode(t, -1, 0, 0, 0));
        assertDoesNotThrow(() -> layout.encode(t, 7, 0, 0, 0));
    }

    @Test
    void encodeRefusesWorkerBeyondWhatTheProductBitsLeave() {
        long t = EPOCH_2026.toEpochMilli();
        Layout noProduct = Layout.unsigned(EPOCH_2026, 0);
        assertRejected("must be >= 0 && <= 4095: worker=4096", () -> noProduct.encode(t, 0, 4096, 0, 0));
        assertDoesNotThrow(() -> noProduct.encode(t, 0, 4095, 0, 0));

        Layout fourProductBits = Layout.unsigned(EPOCH_2026, 4);
        assertRejected("must be >= 0 && <= 255: worker=256", () -> fourProductBits.encode(t, 0, 256, 0, 0));
        assertRejected("must be >= 0 && <= 255: worker=-1", () -> fourProductBits.encode(t, 0, -1, 0, 0));
        assertDoesNotThrow(() -> fourProductBits.encode(t, 0, 255, 0, 0));
    }

    @Test
    void encodeRefusesProductBeyondTheProductBits() {
        long t = EPOCH_2026.toEpochMilli();
        Layout twoProductBits = Layout.unsigned(EPOCH_2026, 2);
        assertRejected("must be >= 0 && <= 3: product=4", () -> twoProductBits.encode(t, 0, 0, 4, 0));
        assertRejected("must be >= 0 && <= 3: product=-1", () -> twoProductBits.encode(t, 0, 0, -1, 0));
        assertDoesNotThrow(() -> twoProductBits.encode(t, 0, 0, 3, 0));
        assertRejected("must be >= 0 && <= 15: product=16", () -> Layout.unsigned(EPOCH_2026, 4).encode(t, 0, 0, 16, 0));
    }

    @Test
    void encodeRefusesSequenceAbove1023() {
        Layout layout = Layout.defaults();
        long t = layout.epochMillis();
        assertRejected("must be >= 0 && <= 1023: sequence=1024", () -> layout.encode(t, 0, 0, 0, 1024));
        assertRejected("must be >= 0 && <= 1023: sequence=-1", () -> layout.encode(t, 0, 0, 0, -1));
        assertDoesNotThrow(() -> layout.encode(t, 0, 0, 0, 1023));
    }

    @Test
    void encodeRefusesTimestampBeforeTheEpoch() {
        Layout layout = Layout.defaults();
        assertRejected("must be >= 2026-01-01T00:00:00Z && < 2043-06-03T21:56:53.888Z: timestamp=2025-12-31T23:59:59.999Z",
                () -> layout.encode(layout.epochMillis() - 1, 0, 0, 0, 0));
        assertRejected("must be >= 2026-01-01T00:00:00Z && < 2043-06-03T21:56:53.888Z: timestamp=1970-01-01T00:00:00Z",
                () -> layout.encode(0, 0, 0, 0, 0));
    }

    @Test
    void encodeRefusesTimestampAtOrPastTheEndOfTime() {
        Layout unsigned = Layout.defaults();
        long end = unsigned.endOfTime().toEpochMilli();
        assertRejected("must be >= 2026-01-01T00:00:00Z && < 2043-06-03T21:56:53.888Z: timestamp=2043-06-03T21:56:53.888Z",
                () -> unsigned.encode(end, 0, 0, 0, 0));
        assertDoesNotThrow(() -> unsigned.encode(end - 1, 0, 0, 0, 0));

        Layout positive = Layout.positive(EPOCH_2026, 0);
        assertRejected("must be >= 2026-01-01T00:00:00Z && < 2034-09-17T10:58:26.944Z: timestamp=2034-09-17T10:58:26.944Z",
                () -> positive.encode(positive.endOfTime().toEpochMilli(), 0, 0, 0, 0));
    }

    @Test
    void encodeNamesTheTimestampFirstWhenEveryFieldIsBad() {
        Layout layout = Layout.defaults();
        assertRejected("must be >= 2026-01-01T00:00:00Z && < 2043-06-03T21:56:53.888Z: timestamp=2025-12-31T23:59:59.999Z",
                () -> layout.encode(layout.epochMillis() - 1, 8, 4096, 1, 1024));
        assertRejected("must be >= 0 && <= 7: idc=8", () -> layout.encode(layout.epochMillis(), 8, 4096, 1, 1024));
    }

    // ---------------------------------------------------------------- Layout: decode and parse

    @Test
    void positiveLayoutRefusesToDecodeAnIdWithBit63Set() {
        Layout positive = Layout.positive(EPOCH_2026, 0);
        assertRejected("must have bit 63 clear in a positive layout: id=9223372036854775808", () -> positive.decode(Long.MIN_VALUE));
        assertRejected("must have bit 63 clear in a positive layout: id=18446744073709551615", () -> positive.decode(-1L));
        assertDoesNotThrow(() -> positive.decode(Long.MAX_VALUE));
    }

    @Test
    void parseRefusesWhatIsNotAnUnsignedDecimalOf1To20Digits() {
        String rule = "must be an unsigned decimal of 1 to 20 digits, at most 18446744073709551615: id=";
        assertRejected(rule + "\"\"", () -> Layout.parse(""));
        assertRejected(rule + "\"abc\"", () -> Layout.parse("abc"));
        assertRejected(rule + "\"-1\"", () -> Layout.parse("-1"));
        assertRejected(rule + "\"+1\"", () -> Layout.parse("+1"));
        assertRejected(rule + "\" 1\"", () -> Layout.parse(" 1"));
        assertRejected(rule + "\"100000000000000000000\"", () -> Layout.parse("100000000000000000000"));
        assertRejected(rule + "\"000000000000000000001\"", () -> Layout.parse("000000000000000000001"));
        assertRejected(rule + "null", () -> Layout.parse(null));
    }

    @Test
    void parseRefuses20DigitsAbove2To64Minus1() {
        assertRejected("must be at most 18446744073709551615: id=18446744073709551616", () -> Layout.parse("18446744073709551616"));
        assertRejected("must be at most 18446744073709551615: id=99999999999999999999", () -> Layout.parse("99999999999999999999"));
        assertEquals(-1L, Layout.parse("18446744073709551615"));
    }

    @Test
    void idRangeRefusesAnIndexOutsideTheRange() {
        IdRange range = new IdRange(100, 3);
        IndexOutOfBoundsException high = assertThrows(IndexOutOfBoundsException.class, () -> range.get(3));
        assertEquals("must be >= 0 && < 3: index=3", high.getMessage());
        IndexOutOfBoundsException low = assertThrows(IndexOutOfBoundsException.class, () -> range.get(-1));
        assertEquals("must be >= 0 && < 3: index=-1", low.getMessage());
        assertEquals(102, range.get(2));
    }

    // ---------------------------------------------------------------- Values

    @Test
    void durationRefusesTextThatIsNotADuration() {
        String rule = "must be a duration such as 500ms, 3s, 2m, 1h or PT3S: ";
        assertRejected(rule + "ekko.x=soon", () -> Values.duration("ekko.x", "soon"));
        assertRejected(rule + "ekko.x=3 seconds", () -> Values.duration("ekko.x", "3 seconds"));
        assertRejected(rule + "ekko.x=2d", () -> Values.duration("ekko.x", "2d"));
        assertRejected(rule + "ekko.x=", () -> Values.duration("ekko.x", ""));
        assertEquals(Duration.ofMillis(500), Values.duration("ekko.x", " 500 MS "));
        assertEquals(Duration.ofSeconds(3), Values.duration("ekko.x", "PT3S"));
    }

    @Test
    void integerRefusesValuesOutOfRangeAndNonIntegers() {
        assertRejected("must be >= 0 && <= 4: ekko.x=5", () -> Values.integer("ekko.x", "5", 0, 4));
        assertRejected("must be >= 0 && <= 4: ekko.x=-1", () -> Values.integer("ekko.x", "-1", 0, 4));
        assertRejected("must be >= -2147483648 && <= 2147483647: ekko.x=2147483648",
                () -> Values.integer("ekko.x", "2147483648", Integer.MIN_VALUE, Integer.MAX_VALUE));
        assertRejected("must be an integer >= 0 && <= 4: ekko.x=1.5", () -> Values.integer("ekko.x", "1.5", 0, 4));
        assertRejected("must be an integer >= 0 && <= 4: ekko.x=four", () -> Values.integer("ekko.x", "four", 0, 4));
        assertEquals(4, Values.integer("ekko.x", " 4 ", 0, 4));
    }

    @Test
    void boolRefusesAnythingButTrueOrFalse() {
        assertRejected("must be true or false: ekko.x=yes", () -> Values.bool("ekko.x", "yes"));
        assertRejected("must be true or false: ekko.x=1", () -> Values.bool("ekko.x", "1"));
        assertEquals(true, Values.bool("ekko.x", "TRUE"));
    }

    @Test
    void instantRefusesAnImpossibleDateAndAnInstantWithoutZone() {
        String rule = "must be an ISO-8601 UTC instant such as 2026-01-01T00:00:00Z or a date such as 2026-01-01: ";
        assertRejected(rule + "ekko.x=2026-13-01", () -> Values.instant("ekko.x", "2026-13-01"));
        assertRejected(rule + "ekko.x=2026-02-30", () -> Values.instant("ekko.x", "2026-02-30"));
        assertRejected(rule + "ekko.x=2026-01-01T00:00:00", () -> Values.instant("ekko.x", "2026-01-01T00:00:00"));
        assertEquals(EPOCH_2026, Values.instant("ekko.x", "2026-01-01"));
    }

    @Test
    void checkDurationRefusesNullAndValuesOutOfRange() {
        assertRejected("must not be null: ekko.x", () -> Values.checkDuration("ekko.x", null, Duration.ZERO, Duration.ofHours(1)));
        assertRejected("must be >= 1s && <= 1h: ekko.x=90m",
                () -> Values.checkDuration("ekko.x", Duration.ofMinutes(90), Duration.ofSeconds(1), Duration.ofHours(1)));
    }

    // ---------------------------------------------------------------- Builder setters

    @Test
    void builderRefusesIdcOutside0To7() {
        assertRejected("must be >= 0 && <= 7: ekko.idc=8", () -> Ekko.newBuilder().idc(8));
        assertRejected("must be >= 0 && <= 7: ekko.idc=-1", () -> Ekko.newBuilder().idc(-1));
        assertRejected("must be an integer >= 0 && <= 7: ekko.idc=one", () -> Ekko.newBuilder().setting("ekko.idc", "one"));
        assertDoesNotThrow(() -> Ekko.newBuilder().idc(7));
    }

    @Test
    void builderRefusesProductBitsOutside0To4() {
        assertRejected("must be >= 0 && <= 4: ekko.product.bits=5", () -> Ekko.newBuilder().productBits(5));
        assertRejected("must be >= 0 && <= 4: ekko.product.bits=-1", () -> Ekko.newBuilder().productBits(-1));
        assertDoesNotThrow(() -> Ekko.newBuilder().productBits(4));
    }

    @Test
    void builderRefusesProductOutside0To15() {
        assertRejected("must be >= 0 && <= 15: ekko.product=16", () -> Ekko.newBuilder().product(16));
        assertRejected("must be >= 0 && <= 15: ekko.product=-1", () -> Ekko.newBuilder().product(-1));
    }

    @Test
    void builderRefusesWorkerIdOutside0To4095() {
        assertRejected("must be >= 0 && <= 4095: ekko.worker.id=4096", () -> Ekko.newBuilder().workerId(4096));
        assertRejected("must be >= 0 && <= 4095: ekko.worker.id=-1", () -> Ekko.newBuilder().workerId(-1));
        assertDoesNotThrow(() -> Ekko.newBuilder().workerId(4095));
    }

    @Test
    void buildRefusesAWorkerIdPoolOutside1ToTheLayoutsCount() throws IOException {
        assertRejected("must be >= 1 && <= 4096: ekko.worker.ids=0", () -> Ekko.newBuilder().setting("ekko.worker.ids", "0"));
        assertRejected("must be >= 1 && <= 4096: ekko.worker.ids=4097", () -> Ekko.newBuilder().setting("ekko.worker.ids", "4097"));
        assertRejected("must be an integer >= 1 && <= 4096: ekko.worker.ids=all", () -> Ekko.newBuilder().setting("ekko.worker.ids", "all"));
        assertBuildRefused(IllegalStateException.class, "must be <= 256 with ekko.product.bits=4: ekko.worker.ids=257",
                builder().productBits(4).setting("ekko.worker.ids", "257"));
        assertBuildRefused(IllegalStateException.class, "must be < ekko.worker.ids=7 (the allocator hands out worker IDs 0..6):"
                + " ekko.worker.id=100", builder().workerId(100).setting("ekko.worker.ids", "7"));
        assertBuildRefused(IllegalStateException.class, "must be < ekko.worker.ids=7 (the allocator hands out worker IDs 0..6):"
                + " ekko.worker.id=7", builder().allocator("host-local").workerId(7).setting("ekko.worker.ids", "7"));
    }

    @Test
    void aWorkerIdPoolOfTwoGivesOutWorkerIdsZeroAndOneOnlyThenRefusesWithItsSize() {
        try (IdGenerator a = builder().setting("ekko.worker.ids", "2").build();
                IdGenerator b = builder().setting("ekko.worker.ids", "2").build()) {
            assertEquals(java.util.Set.of(0, 1), java.util.Set.of(a.workerId(), b.workerId()));
            WorkerIdsExhaustedException e = assertThrows(WorkerIdsExhaustedException.class,
                    () -> builder().setting("ekko.worker.ids", "2").build().close());
            assertTrue(e.getMessage().contains("2"), e.getMessage());
        }
    }

    @Test
    void builderRefusesAllocatorNamesThatAreNotLowerCaseWords() {
        String rule = "must be lower-case letters, digits and '-', starting with a letter (manual, host-local, redis, mysql, etcd):"
                + " ekko.worker.allocator=";
        assertRejected(rule + "Redis!", () -> Ekko.newBuilder().allocator("Redis!"));
        assertRejected(rule + "Redis", () -> Ekko.newBuilder().allocator("Redis"));
        assertRejected(rule + "1redis", () -> Ekko.newBuilder().allocator("1redis"));
        for (String bad : new String[] {"-a", "my_sql", "a b", "é", "a.b", "aB"}) {
            assertRejected(rule + bad, () -> Ekko.newBuilder().allocator(bad));
        }
        assertRejected("must not be null: ekko.worker.allocator", () -> Ekko.newBuilder().allocator(null));
        assertDoesNotThrow(() -> Ekko.newBuilder().allocator("host-local2"));
        for (String ok : new String[] {"a", "a-", "etcd3", " manual "}) {
            assertDoesNotThrow(() -> Ekko.newBuilder().allocator(ok), ok);
        }
    }

    @Test
    void builderRefusesEmptyOrOverlongInstance() {
        assertRejected("must be 1 to 200 characters, not blank: ekko.worker.instance=\"\"", () -> Ekko.newBuilder().instance(""));
        String overlong = "x".repeat(201);
        assertRejected("must be 1 to 200 characters, not blank: ekko.worker.instance=\"" + overlong + "\"", () -> Ekko.newBuilder().instance(overlong));
        assertDoesNotThrow(() -> Ekko.newBuilder().instance("x".repeat(200)));
    }

    @Test
    void builderRefusesLeaseTtlOutside1sTo1h() {
        assertRejected("must be >= 1s && <= 1h: ekko.worker.lease.ttl=0s", () -> Ekko.newBuilder().leaseTtl(Duration.ZERO));
        assertRejected("must be >= 1s && <= 1h: ekko.worker.lease.ttl=999ms", () -> Ekko.newBuilder().leaseTtl(Duration.ofMillis(999)));
        assertRejected("must be >= 1s && <= 1h: ekko.worker.lease.ttl=61m", () -> Ekko.newBuilder().leaseTtl(Duration.ofMinutes(61)));
        assertRejected("must be a duration such as 500ms, 3s, 2m, 1h or PT3S: ekko.worker.lease.ttl=30 secs",
                () -> Ekko.newBuilder().setting("ekko.worker.lease.ttl", "30 secs"));
        assertDoesNotThrow(() -> Ekko.newBuilder().leaseTtl(Duration.ofSeconds(1)).leaseTtl(Duration.ofHours(1)));
    }

    @Test
    void builderRefusesLeaseMarginOutside100msTo10m() {
        assertRejected("must be >= 100ms && <= 10m: ekko.worker.lease.margin=99ms", () -> Ekko.newBuilder().leaseMargin(Duration.ofMillis(99)));
        assertRejected("must be >= 100ms && <= 10m: ekko.worker.lease.margin=601s",
                () -> Ekko.newBuilder().leaseMargin(Duration.ofSeconds(601)));
    }

    @Test
    void builderRefusesReportIntervalOutside100msTo10m() {
        assertRejected("must be >= 100ms && <= 10m: ekko.worker.report.interval=50ms",
                () -> Ekko.newBuilder().reportInterval(Duration.ofMillis(50)));
        assertRejected("must be >= 100ms && <= 10m: ekko.worker.report.interval=11m",
                () -> Ekko.newBuilder().reportInterval(Duration.ofMinutes(11)));
        assertDoesNotThrow(() -> Ekko.newBuilder().reportInterval(Duration.ofMillis(100)).reportInterval(Duration.ofMinutes(10)));
    }

    @Test
    void builderRefusesNegativeOrOverlongClockLimits() {
        assertRejected("must be >= 0s && <= 1h: ekko.clock.max.backward.wait=-1s",
                () -> Ekko.newBuilder().maxBackwardWait(Duration.ofSeconds(-1)));
        assertRejected("must be >= 0s && <= 1h: ekko.clock.max.lead=-1ms", () -> Ekko.newBuilder().maxLead(Duration.ofMillis(-1)));
        assertRejected("must be >= 0s && <= 1h: ekko.clock.max.skew=2h", () -> Ekko.newBuilder().maxClockSkew(Duration.ofHours(2)));
        assertDoesNotThrow(() -> Ekko.newBuilder().maxBackwardWait(Duration.ZERO).maxLead(Duration.ofHours(1)).maxClockSkew(Duration.ZERO));
    }

    @Test
    void builderRefusesReservationOutside1sTo1h() {
        assertRejected("must be >= 1s && <= 1h: ekko.state.reservation=999ms", () -> Ekko.newBuilder().reservation(Duration.ofMillis(999)));
        assertRejected("must be >= 1s && <= 1h: ekko.state.reservation=2h", () -> Ekko.newBuilder().reservation(Duration.ofHours(2)));
    }

    @Test
    void builderRefusesBlankStateDirectory() {
        assertRejected("must be a directory path: ekko.state.dir=\"\"", () -> Ekko.newBuilder().stateDirectory(Path.of("")));
        assertRejected("must be a directory path: ekko.state.dir=\" \"", () -> Ekko.newBuilder().setting("ekko.state.dir", " "));
    }

    @Test
    void builderRefusesPositiveThatIsNotABoolean() {
        assertRejected("must be true or false: ekko.positive=yes", () -> Ekko.newBuilder().setting("ekko.positive", "yes"));
    }

    @Test
    void builderRefusesEpochThatIsNotAnInstantOrDate() {
        assertRejected("must be an ISO-8601 UTC instant such as 2026-01-01T00:00:00Z or a date such as 2026-01-01: ekko.epoch=2026-13-01",
                () -> Ekko.newBuilder().setting("ekko.epoch", "2026-13-01"));
    }

    @Test
    void builderRefusesKeysOutsideTheEkkoNamespaceAndNullValues() {
        assertRejected("must start with \"ekko.\": key=idc", () -> Ekko.newBuilder().setting("idc", "1"));
        assertRejected("must not be null: ekko.idc", () -> Ekko.newBuilder().setting("ekko.idc", null));
    }

    @Test
    void propertiesAreCheckedAsTheyAreApplied() {
        Properties p = new Properties();
        p.setProperty("ekko.idc", "8");
        assertRejected("must be >= 0 && <= 7: ekko.idc=8", () -> Ekko.newBuilder().properties(p));
    }

    // ---------------------------------------------------------------- build(): settings against each other

    @Test
    void buildRefusesProductThatTheProductBitsCannotHold() throws IOException {
        assertBuildRefused(IllegalStateException.class, "must be < 2 with ekko.product.bits=1: ekko.product=2",
                builder().productBits(1).product(2));
        assertBuildRefused(IllegalStateException.class, "must be < 1 with ekko.product.bits=0: ekko.product=1", builder().product(1));
    }

    @Test
    void buildRefusesWorkerIdThatTheProductBitsLeaveNoRoomFor() throws IOException {
        assertBuildRefused(IllegalStateException.class, "must be < 256 with ekko.product.bits=4: ekko.worker.id=300",
                builder().productBits(4).workerId(300));
        assertBuildRefused(IllegalStateException.class, "must be < 256 with ekko.product.bits=4: ekko.worker.id=256",
                builder().workerId(256).productBits(4));
    }

    @Test
    void buildRefusesReportIntervalTooLongForTheLease() throws IOException {
        assertBuildRefused(IllegalStateException.class, "must hold 2 * ekko.worker.report.interval + ekko.worker.lease.margin"
                + " <= ekko.worker.lease.ttl so one missed renewal does not fence: ekko.worker.report.interval=14s,"
                + " ekko.worker.lease.margin=3s, ekko.worker.lease.ttl=30s", builder().reportInterval(Duration.ofSeconds(14)));
        assertBuildRefused(IllegalStateException.class, "must hold 2 * ekko.worker.report.interval + ekko.worker.lease.margin"
                + " <= ekko.worker.lease.ttl so one missed renewal does not fence: ekko.worker.report.interval=5s,"
                + " ekko.worker.lease.margin=1001ms, ekko.worker.lease.ttl=11s",
                builder().leaseTtl(Duration.ofSeconds(11)).leaseMargin(Duration.ofMillis(1001)).reportInterval(Duration.ofSeconds(5)));
    }

    /** Issue #8, item 3: margin below skew let two holders share milliseconds after a coordinator lost its data. */
    @Test
    void buildRefusesALeaseMarginBelowTheToleratedSkew() throws IOException {
        assertBuildRefused(IllegalStateException.class, "must hold ekko.worker.lease.margin >= ekko.clock.max.skew, or two holders of"
                + " one worker ID whose clocks differ by the tolerated skew could issue in the same milliseconds after a coordinator"
                + " lost its data: ekko.worker.lease.margin=1s, ekko.clock.max.skew=3s", builder().leaseMargin(Duration.ofSeconds(1)));
        assertBuildRefused(IllegalStateException.class, "must hold ekko.worker.lease.margin >= ekko.clock.max.skew, or two holders of"
                + " one worker ID whose clocks differ by the tolerated skew could issue in the same milliseconds after a coordinator"
                + " lost its data: ekko.worker.lease.margin=3s, ekko.clock.max.skew=3001ms", builder().maxClockSkew(Duration.ofMillis(3001)));
    }

    /** Issue #8, item 15: an arbitrary container UID has no home (user.home is "?"): no state under ./?/.local. */
    @Test
    void withoutAHomeDirectoryThereIsNoDefaultStateDirectory() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Ekko.Builder.defaultStateDir(null, "?"));
        assertEquals("must be set: ekko.state.dir (environment variable EKKO_STATE_DIR), because there is no default: this user has"
                + " no home directory (user.home=\"?\", as for an arbitrary container UID) and XDG_STATE_HOME is not set; choose a"
                + " writable directory that survives restarts (a volume in a container)", e.getMessage());
        assertThrows(IllegalStateException.class, () -> Ekko.Builder.defaultStateDir("relative", null));
        assertEquals(Path.of("/var/lib/app/ekko"), Ekko.Builder.defaultStateDir("/var/lib/app", "?"));
        assertEquals(Path.of("/home/me/.local/state/ekko"), Ekko.Builder.defaultStateDir(null, "/home/me"));
    }

    @Test
    void buildRefusesReservationShorterThanTwoReportIntervals() throws IOException {
        assertBuildRefused(IllegalStateException.class,
                "must be >= 6s (2 * ekko.worker.report.interval=3s) so the reservation never runs out between reports: ekko.state.reservation=5s",
                builder().reservation(Duration.ofSeconds(5)));
        assertBuildRefused(IllegalStateException.class,
                "must be >= 3s (2 * ekko.worker.report.interval=1500ms) so the reservation never runs out between reports:"
                        + " ekko.state.reservation=2999ms",
                builder().reportInterval(Duration.ofMillis(1500)).reservation(Duration.ofMillis(2999)));
    }

    // ---------------------------------------------------------------- build(): unknown keys and missing allocators

    @Test
    void buildRefusesAMisspelledKeySetWithSetting() throws IOException {
        assertBuildRefused(IllegalArgumentException.class, "unknown configuration key: ekko.wroker.id. Known keys: " + KNOWN_KEYS,
                builder().setting("ekko.wroker.id", "7"));
    }

    @Test
    void buildRefusesAMisspelledKeyFromProperties() throws IOException {
        Properties p = new Properties();
        p.setProperty("ekko.wroker.id", "7");
        p.setProperty("server.port", "8080");
        assertBuildRefused(IllegalArgumentException.class, "unknown configuration key: ekko.wroker.id. Known keys: " + KNOWN_KEYS,
                builder().properties(p));
    }

    @Test
    void buildNamesEveryUnknownKey() throws IOException {
        assertBuildRefused(IllegalArgumentException.class,
                "unknown configuration keys: ekko.idc.number; ekko.wroker.id. Known keys: " + KNOWN_KEYS,
                builder().setting("ekko.wroker.id", "7").setting("ekko.idc.number", "1"));
    }

    @Test
    void buildNamesTheArtifactForASettingOfAnAbsentBackEnd() throws IOException {
        assertBuildRefused(IllegalArgumentException.class, "unknown configuration key: ekko.redis.uri (a setting of allocator redis,"
                + " which is not on the class path: add dev.ekko:ekko-worker-redis). Known keys: " + KNOWN_KEYS,
                builder().setting("ekko.redis.uri", "redis://localhost:6379"));
    }

    @Test
    void buildListsTheAllocatorsFoundWhenTheNamedOneIsMissing() throws IOException {
        assertBuildRefused(IllegalArgumentException.class, "no worker allocator named \"redis\" (ekko.worker.allocator); found: host-local,"
                + " manual; to use it, add dev.ekko:ekko-worker-redis to the class path", builder().allocator("redis"));
        assertBuildRefused(IllegalArgumentException.class, "no worker allocator named \"zookeeper\" (ekko.worker.allocator); found:"
                + " host-local, manual; to use it, add an artifact that provides it to the class path", builder().allocator("zookeeper"));
    }

    // ---------------------------------------------------------------- AllocatorContext

    @Test
    void allocatorContextRefusesIdcOutside0To7() {
        assertRejected("must be >= 0 && <= 7: idc=8", () -> AllocatorContext.builder().idc(8));
        assertRejected("must be >= 0 && <= 7: idc=-1", () -> AllocatorContext.builder().idc(-1));
    }

    @Test
    void allocatorContextRefusesWorkerIdsOutside1To4096() {
        String rule = "must be >= 1 && <= 4096: workerIds=";
        assertRejected(rule + "0", () -> AllocatorContext.builder().workerIds(0));
        assertRejected(rule + "4097", () -> AllocatorContext.builder().workerIds(4097));
        assertDoesNotThrow(() -> AllocatorContext.builder().workerIds(1).workerIds(300).workerIds(4096));
    }

    @Test
    void allocatorContextRefusesPreferredWorkerIdBelowMinus1OrBeyondTheWorkerIds() {
        assertRejected("must be -1 (none) or >= 0: preferredWorkerId=-2", () -> AllocatorContext.builder().preferredWorkerId(-2));
        assertRejected("must be < workerIds=256: preferredWorkerId=256",
                () -> AllocatorContext.builder().workerIds(256).preferredWorkerId(256).build());
        assertEquals(255, AllocatorContext.builder().workerIds(256).preferredWorkerId(255).build().preferredWorkerId());
    }

    @Test
    void allocatorContextRefusesALeaseTtlThatIsNotPositive() {
        assertRejected("must be > 0: leaseTtl=PT0S", () -> AllocatorContext.builder().leaseTtl(Duration.ZERO));
        assertRejected("must be > 0: leaseTtl=PT-1S", () -> AllocatorContext.builder().leaseTtl(Duration.ofSeconds(-1)));
    }

    @Test
    void allocatorContextNamesTheKeyAndEnvironmentVariableOfAMissingSetting() {
        AllocatorContext context = AllocatorContext.builder().setting("ekko.redis.uri", " ").build();
        assertRejected("must be set to the Redis server to lease worker IDs from: ekko.redis.uri (environment variable EKKO_REDIS_URI)",
                () -> context.requireSetting("ekko.redis.uri", "the Redis server to lease worker IDs from"));
        assertRejected("must be set to the etcd endpoints: ekko.etcd.endpoints (environment variable EKKO_ETCD_ENDPOINTS)",
                () -> context.requireSetting("ekko.etcd.endpoints", "the etcd endpoints"));
    }

    @Test
    void allocatorContextRefusesMalformedTypedSettings() {
        AllocatorContext context = AllocatorContext.builder().setting("ekko.redis.timeout", "soon").setting("ekko.redis.db", "16").build();
        assertRejected("must be a duration such as 500ms, 3s, 2m, 1h or PT3S: ekko.redis.timeout=soon",
                () -> context.durationSetting("ekko.redis.timeout", Duration.ofSeconds(1)));
        assertRejected("must be >= 0 && <= 15: ekko.redis.db=16", () -> context.intSetting("ekko.redis.db", 0, 0, 15));
    }

    /** A generator name is written into a back end's line-based records (etcd's readings and histories). */
    @Test
    void allocatorContextRefusesABlankOrMultiLineGeneratorName() {
        assertRejected("must not be blank or hold a line break: generator= ", () -> AllocatorContext.builder().generator(" "));
        assertRejected("must not be blank or hold a line break: generator=a\nb", () -> AllocatorContext.builder().generator("a\nb"));
    }

    // ---------------------------------------------------------------- secrets

    @Test
    void allocatorContextToStringMasksSecrets() {
        AllocatorContext context = AllocatorContext.builder().idc(3).workerIds(256).preferredWorkerId(7).instance("app-1").host("h1")
                .pid(42).generator("h1/42/g").leaseTtl(Duration.ofSeconds(30)).setting("ekko.redis.password", "hunter2")
                .setting("ekko.redis.uri", "redis://h:6379").setting("ekko.etcd.token", "tok-123")
                .setting("ekko.mysql.client.secret", "s3cr3t").build();
        String shown = context.toString();
        assertEquals("AllocatorContext{idc=3, workerIds=256, preferredWorkerId=7, instance=app-1, host=h1, pid=42, generator=h1/42/g,"
                + " leaseTtl=PT30S,"
                + " settings={ekko.etcd.token=***, ekko.mysql.client.secret=***, ekko.redis.password=***, ekko.redis.uri=redis://h:6379}}",
                shown);
        for (String secret : List.of("hunter2", "tok-123", "s3cr3t")) {
            assertFalse(shown.contains(secret), secret);
        }
        assertEquals("hunter2", context.setting("ekko.redis.password").orElseThrow(), "masked only when shown");
    }

    @Test
    void builderToStringMasksSecrets() {
        String shown = Ekko.newBuilder().setting("ekko.redis.password", "hunter2").setting("ekko.redis.uri", "redis://h:6379").idc(1)
                .toString();
        assertEquals("Ekko.Builder{ekko.idc=1, ekko.redis.password=***, ekko.redis.uri=redis://h:6379}", shown);
    }

    // ---------------------------------------------------------------- helpers

    private static void assertRejected(String message, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertEquals(message, e.getMessage());
    }

    /** A builder whose state, should it ever get that far, goes to this test's own directory. */
    private Ekko.Builder builder() {
        return Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks);
    }

    /** build() must refuse before it acquires anything: the state directory stays empty. */
    private <T extends RuntimeException> void assertBuildRefused(Class<T> type, String message, Ekko.Builder builder) throws IOException {
        T e = assertThrows(type, () -> {
            try (IdGenerator started = builder.build()) {
                fail("started although it should have been refused: " + started);
            }
        });
        assertEquals(message, e.getMessage());
        try (Stream<Path> files = Files.list(stateDir)) {
            assertEquals(List.of(), files.map(Path::toString).collect(Collectors.toList()), "nothing written before the refusal");
        }
    }

    // ---------------------------------------------------------------- found in review: no overflow, no leak, no bare NPE

    @Test
    void hugeDurationsAreRejectedWithAMessageNotAnOverflow() {
        assertRejected("must be >= 0s && <= 1h: ekko.clock.max.backward.wait=" + java.time.temporal.ChronoUnit.FOREVER.getDuration(),
                () -> Ekko.newBuilder().maxBackwardWait(java.time.temporal.ChronoUnit.FOREVER.getDuration()));
        assertRejected("must be >= 1s && <= 1h: ekko.worker.lease.ttl=PT2562047788015215H",
                () -> Ekko.newBuilder().setting("ekko.worker.lease.ttl", "PT2562047788015215H"));
    }

    @Test
    void farFutureEpochIsRejectedWithAMessageNotAnOverflow() {
        Instant far = Instant.parse("+1000000000-01-01T00:00:00Z");
        assertRejected("must not be in the future (no ID can be made before the epoch): epoch=" + far, () -> Layout.unsigned(far, 0));
        assertRejected("must not be in the future (no ID can be made before the epoch): ekko.epoch=" + far,
                () -> Ekko.newBuilder().epoch(far));
    }

    @Test
    void builderEpochMessagesNameTheKey() {
        assertRejected("must not be in the future (no ID can be made before the epoch): ekko.epoch=2999-01-01T00:00:00Z",
                () -> Ekko.newBuilder().setting("ekko.epoch", "2999-01-01"));
    }

    @Test
    void nullSettingsNameTheKey() {
        assertRejected("must not be null: ekko.worker.lease.ttl", () -> Ekko.newBuilder().leaseTtl(null));
        assertRejected("must not be null: ekko.epoch", () -> Ekko.newBuilder().epoch(null));
        assertRejected("must not be null: ekko.state.dir", () -> Ekko.newBuilder().stateDirectory(null));
        assertRejected("must not be null: leaseTtl", () -> dev.ekko.spi.AllocatorContext.builder().leaseTtl(null));
    }

    @Test
    void passwordsInsideUrisAreMasked() {
        String shown = Ekko.newBuilder().setting("ekko.redis.uri", "redis://app:hunter2@h:6379/0").toString();
        assertFalse(shown.contains("hunter2"), shown);
        assertTrue(shown.contains("redis://app:***@h:6379/0"), shown);
        String ctx = dev.ekko.spi.AllocatorContext.builder().setting("ekko.redis.uri", "rediss://:hunter2@h:6379").build().toString();
        assertFalse(ctx.contains("hunter2"), ctx);
        assertTrue(ctx.contains("rediss://:***@h:6379"), ctx);
        assertEquals("redis://u:***@h:1", dev.ekko.internal.Values.printable("ekko.redis.uri", "redis://u:p@ss/w@h:1"));
        assertEquals("redis:u:***@h:1", dev.ekko.internal.Values.printable("ekko.redis.uri", "redis:u:secret@h:1"));
        assertEquals("redis://***@h:1", dev.ekko.internal.Values.printable("ekko.redis.uri", "redis://tokenonly@h:1"));
        assertEquals("redis://h:1/0", dev.ekko.internal.Values.printable("ekko.redis.uri", "redis://h:1/0"));
    }

    @Test
    void positiveLayoutRefusesTheTimestampOfAnIdWithBit63Set() {
        assertRejected("must have bit 63 clear in a positive layout: id=18446744073709551615",
                () -> Layout.positive(Layout.DEFAULT_EPOCH, 0).timestampOf(-1L));
    }

    @Test
    void idRangeCountIsChecked() {
        assertRejected("must be >= 1 && <= 1024: count=0", () -> new IdRange(0, 0));
        assertRejected("must be >= 1 && <= 1024: count=1025", () -> new IdRange(0, 1025));
    }
}
