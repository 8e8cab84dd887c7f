package dev.ekko;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The bit layout: where each field sits, how long time lasts, and that encode, decode, compare,
 * format and parse agree with each other and with independent arithmetic (BigInteger, hand-computed dates).
 */
class LayoutTest {

    /** Fixed so a failure can be replayed; every property assertion prints it. */
    private static final long SEED = 0x45_4B_4B_4F_2026L;

    private static final int CASES = 20_000;

    private static final Instant EPOCH_2026 = Instant.parse("2026-01-01T00:00:00Z");

    private static final BigInteger TWO_TO_THE_64 = BigInteger.ONE.shiftLeft(64);

    // ---------------------------------------------------------------- bit positions

    @Test
    void theDefaultEpochConstantAndItsTextAreWhatParsingGives() {
        // The default epoch is a constant and its text a literal so that a start loads no java.time parser or formatter.
        assertEquals(Instant.parse("2026-01-01T00:00:00Z"), Layout.DEFAULT_EPOCH);
        assertEquals(Layout.DEFAULT_EPOCH.toString(), Layout.defaults().epochText());
        Instant other = Instant.parse("2020-02-29T12:34:56.789Z");
        assertEquals(other.toString(), Layout.unsigned(other, 2).epochText());
        assertEquals("2020-02-29T12:34:56.789Z", Layout.positive(other, 0).epochText());
    }

    @Test
    void defaultLayoutIsUnsignedFrom2026WithoutProductBits() {
        Layout layout = Layout.defaults();
        assertEquals(Layout.unsigned(EPOCH_2026, 0), layout);
        assertEquals(EPOCH_2026, layout.epoch());
        assertEquals(1_767_225_600_000L, layout.epochMillis());
        assertFalse(layout.isPositive());
        assertEquals(39, layout.timeBits());
        assertEquals(0, layout.productBits());
        assertEquals(12, layout.workerBits());
        assertEquals(4096, layout.workerIds());
        assertEquals(1, layout.products());
        assertEquals((1L << 39) - 1, layout.maxTimeOffset());
    }

    @Test
    void fieldWidthsAddUpTo64Bits() {
        assertEquals(64, 39 + Layout.IDC_BITS + Layout.WORKER_AND_PRODUCT_BITS + Layout.SEQUENCE_BITS);
        assertEquals(3, Layout.IDC_BITS);
        assertEquals(12, Layout.WORKER_AND_PRODUCT_BITS);
        assertEquals(10, Layout.SEQUENCE_BITS);
        assertEquals(4, Layout.MAX_PRODUCT_BITS);
        assertEquals(25, Layout.TIME_SHIFT);
        for (int p = 0; p <= 4; p++) {
            Layout unsigned = Layout.unsigned(EPOCH_2026, p);
            Layout positive = Layout.positive(EPOCH_2026, p);
            assertEquals(64, unsigned.timeBits() + Layout.IDC_BITS + unsigned.workerBits() + unsigned.productBits()
                    + Layout.SEQUENCE_BITS, "productBits=" + p);
            assertEquals(63, positive.timeBits() + Layout.IDC_BITS + positive.workerBits() + positive.productBits()
                    + Layout.SEQUENCE_BITS, "productBits=" + p);
            assertEquals(12 - p, unsigned.workerBits());
            assertEquals(1 << (12 - p), unsigned.workerIds());
            assertEquals(1 << p, unsigned.products());
        }
    }

    @Test
    void eachFieldSitsAtItsBitPositionWithoutProductBits() {
        Layout layout = Layout.defaults();
        long t0 = layout.epochMillis();
        assertEquals(0L, layout.encode(t0, 0, 0, 0, 0));
        assertEquals(1L, layout.encode(t0, 0, 0, 0, 1));
        assertEquals(1L << 10, layout.encode(t0, 0, 1, 0, 0));
        assertEquals(1L << 22, layout.encode(t0, 1, 0, 0, 0));
        assertEquals(1L << 25, layout.encode(t0 + 1, 0, 0, 0, 0));

        assertEquals(0x0000_0000_0000_03FFL, layout.encode(t0, 0, 0, 0, 1023), "sequence: bits 0..9");
        assertEquals(0x0000_0000_003F_FC00L, layout.encode(t0, 0, 4095, 0, 0), "worker: bits 10..21");
        assertEquals(0x0000_0000_01C0_0000L, layout.encode(t0, 7, 0, 0, 0), "idc: bits 22..24");
        assertEquals(0xFFFF_FFFF_FE00_0000L, layout.encode(t0 + layout.maxTimeOffset(), 0, 0, 0, 0), "time: bits 25..63");
        assertEquals(-1L, layout.encode(t0 + layout.maxTimeOffset(), 7, 4095, 0, 1023), "every bit, bit 63 included");
    }

    @Test
    void productBitsAreTakenFromTheLowEndOfTheWorkerField() {
        Layout layout = Layout.unsigned(EPOCH_2026, 4);
        long t0 = layout.epochMillis();
        assertEquals(1L << 10, layout.encode(t0, 0, 0, 1, 0));
        assertEquals(1L << 14, layout.encode(t0, 0, 1, 0, 0));
        assertEquals(0x0000_0000_0000_3C00L, layout.encode(t0, 0, 0, 15, 0), "product: bits 10..13");
        assertEquals(0x0000_0000_003F_C000L, layout.encode(t0, 0, 255, 0, 0), "worker: bits 14..21");
        assertEquals(1L << 22, layout.encode(t0, 1, 0, 0, 0), "idc stays at bit 22");
        assertEquals(-1L, layout.encode(t0 + layout.maxTimeOffset(), 7, 255, 15, 1023));

        Layout two = Layout.unsigned(EPOCH_2026, 2);
        assertEquals(0x0000_0000_0000_0C00L, two.encode(t0, 0, 0, 3, 0), "product: bits 10..11");
        assertEquals(0x0000_0000_003F_F000L, two.encode(t0, 0, 1023, 0, 0), "worker: bits 12..21");
    }

    @Test
    void positiveLayoutHas38TimeBitsAndNeverSetsBit63() {
        for (int p = 0; p <= 4; p++) {
            Layout layout = Layout.positive(EPOCH_2026, p);
            assertTrue(layout.isPositive());
            assertEquals(38, layout.timeBits());
            assertEquals((1L << 38) - 1, layout.maxTimeOffset());
            long largest = layout.encode(layout.epochMillis() + layout.maxTimeOffset(), 7, layout.workerIds() - 1,
                    layout.products() - 1, 1023);
            assertEquals(Long.MAX_VALUE, largest, "every bit but 63, productBits=" + p);
        }
        assertEquals(Optional.empty(), Layout.positive(EPOCH_2026, 0).signBitDate());
    }

    // ---------------------------------------------------------------- dates

    @Test
    void signBitDateAndEndOfTimeOfTheDefaultEpoch() {
        // 2026-01-01T00:00:00Z + 2^38 ms (274,877,906,944 ms, about 8.7 years) = 2034-09-17T10:58:26.944Z
        // 2026-01-01T00:00:00Z + 2^39 ms (549,755,813,888 ms, about 17.4 years) = 2043-06-03T21:56:53.888Z
        Instant signBit = Instant.parse("2034-09-17T10:58:26.944Z");
        Instant end = Instant.parse("2043-06-03T21:56:53.888Z");
        assertEquals(EPOCH_2026.plusMillis(274_877_906_944L), signBit);
        assertEquals(EPOCH_2026.plusMillis(549_755_813_888L), end);

        Layout unsigned = Layout.defaults();
        assertEquals(Optional.of(signBit), unsigned.signBitDate());
        assertEquals(end, unsigned.endOfTime());
        assertEquals(2_042_103_506_944L, unsigned.signBitDate().orElseThrow().toEpochMilli());
        assertEquals(2_316_981_413_888L, unsigned.endOfTime().toEpochMilli());

        assertEquals(signBit, Layout.positive(EPOCH_2026, 3).endOfTime(), "a positive layout ends where the unsigned one turns negative");
    }

    @Test
    void idsTurnNegativeExactlyAtTheSignBitDate() {
        Layout layout = Layout.defaults();
        long signBit = layout.signBitDate().orElseThrow().toEpochMilli();
        assertTrue(layout.encode(signBit - 1, 7, 4095, 0, 1023) > 0);
        assertEquals(Long.MIN_VALUE, layout.encode(signBit, 0, 0, 0, 0));
    }

    @Test
    void remainingIsTheTimeLeftBeforeTheEndOfTime() {
        Layout layout = Layout.defaults();
        assertEquals(Duration.ofMillis(549_755_813_888L), layout.remaining(EPOCH_2026));
        assertEquals(Duration.ZERO, layout.remaining(layout.endOfTime()));
        assertEquals(Duration.ofMillis(-1), layout.remaining(layout.endOfTime().plusMillis(1)));
    }

    // ---------------------------------------------------------------- encode / decode

    @Test
    void encodeThenDecodeReturnsEveryFieldOverRandomLayouts() {
        SplittableRandom random = new SplittableRandom(SEED);
        long now = System.currentTimeMillis();
        for (int i = 0; i < CASES; i++) {
            int n = i;
            Layout layout = randomLayout(random, now);
            long offset = pick(random, layout.maxTimeOffset());
            int idc = (int) pick(random, 7);
            int worker = (int) pick(random, layout.workerIds() - 1);
            int product = (int) pick(random, layout.products() - 1);
            int sequence = (int) pick(random, 1023);
            long millis = layout.epochMillis() + offset;

            long id = layout.encode(millis, idc, worker, product, sequence);
            DecodedId d = layout.decode(id);
            String what = "seed=" + SEED + " case=" + n + " " + layout + " millis=" + millis + " idc=" + idc + " worker=" + worker
                    + " product=" + product + " sequence=" + sequence + " id=" + Layout.format(id);
            assertEquals(new DecodedId(id, millis, idc, worker, product, sequence), d, what);
            assertEquals(Instant.ofEpochMilli(millis), layout.timestampOf(id), what);
            assertEquals(Instant.ofEpochMilli(millis), d.timestamp(), what);
            assertEquals(expectedId(layout, offset, idc, worker, product, sequence), id, what);
            if (layout.isPositive()) {
                assertTrue(id >= 0, what);
            }
        }
    }

    @Test
    void everyBitPatternDecodesAndEncodesBackToItself() {
        SplittableRandom random = new SplittableRandom(SEED + 1);
        long now = System.currentTimeMillis();
        for (int i = 0; i < CASES; i++) {
            int n = i;
            Layout layout = randomLayout(random, now);
            long id = random.nextLong();
            if (layout.isPositive()) {
                id &= Long.MAX_VALUE;
            }
            if (n % 10 == 0) {
                id = layout.isPositive() ? Long.MAX_VALUE : -1L;
            } else if (n % 10 == 1) {
                id = 0;
            }
            DecodedId d = layout.decode(id);
            long back = layout.encode(d.epochMillis(), d.idc(), d.worker(), d.product(), d.sequence());
            long expected = id;
            assertEquals(expected, back, () -> "seed=" + SEED + " case=" + n + " " + layout + " id=" + Layout.format(expected) + " " + d);
            assertEquals(expected, d.id());
        }
    }

    /** The ID computed with BigInteger from the field widths alone, as a signed long. */
    private static long expectedId(Layout layout, long offset, int idc, int worker, int product, int sequence) {
        int p = layout.productBits();
        BigInteger v = BigInteger.valueOf(offset).shiftLeft(3 + 12 + 10)
                .add(BigInteger.valueOf(idc).shiftLeft(12 + 10))
                .add(BigInteger.valueOf(worker).shiftLeft(p + 10))
                .add(BigInteger.valueOf(product).shiftLeft(10))
                .add(BigInteger.valueOf(sequence));
        assertTrue(v.signum() >= 0 && v.compareTo(TWO_TO_THE_64) < 0, "fits 64 bits: " + v);
        return v.longValue();
    }

    private static Layout randomLayout(SplittableRandom random, long now) {
        long epochMillis = random.nextInt(8) == 0 ? (random.nextBoolean() ? 0 : now) : random.nextLong(now + 1);
        int productBits = random.nextInt(5);
        Instant epoch = Instant.ofEpochMilli(epochMillis);
        return random.nextBoolean() ? Layout.positive(epoch, productBits) : Layout.unsigned(epoch, productBits);
    }

    /** 0..max, the extremes one time in four each. */
    private static long pick(SplittableRandom random, long max) {
        int r = random.nextInt(8);
        if (r < 2) {
            return 0;
        }
        if (r < 4) {
            return max;
        }
        return random.nextLong(max + 1);
    }

    // ---------------------------------------------------------------- ordering

    @Test
    void compareOrdersIdsAcrossBit63ByTime() {
        Layout layout = Layout.defaults();
        long signBit = layout.signBitDate().orElseThrow().toEpochMilli();
        long before = layout.encode(signBit - 1, 7, 4095, 0, 1023);
        long at = layout.encode(signBit, 0, 0, 0, 0);
        long last = layout.encode(layout.endOfTime().toEpochMilli() - 1, 7, 4095, 0, 1023);

        assertTrue(before > 0 && at < 0 && last < 0, "the IDs straddle bit 63");
        assertTrue(Long.compare(before, at) > 0, "signed comparison gets it wrong");
        assertTrue(Layout.compare(before, at) < 0);
        assertTrue(Layout.compare(at, before) > 0);
        assertTrue(Layout.compare(at, last) < 0);
        assertEquals(0, Layout.compare(at, at));
        assertTrue(Layout.compare(-1L, 0L) > 0);
        assertTrue(Layout.compare(Long.MIN_VALUE, Long.MAX_VALUE) > 0);
    }

    @Test
    void compareSortsOneWorkersIdsInIssueOrderAroundTheSignBitDate() {
        SplittableRandom random = new SplittableRandom(SEED + 2);
        Layout layout = Layout.unsigned(EPOCH_2026, 2);
        long signBit = layout.signBitDate().orElseThrow().toEpochMilli();
        for (int i = 0; i < CASES; i++) {
            int n = i;
            long ta = signBit + random.nextLong(-5, 5);
            long tb = signBit + random.nextLong(-5, 5);
            int sa = random.nextInt(1024);
            int sb = random.nextInt(1024);
            long a = layout.encode(ta, 3, 700, 2, sa);
            long b = layout.encode(tb, 3, 700, 2, sb);
            int expected = ta != tb ? Long.compare(ta, tb) : Integer.compare(sa, sb);
            assertEquals(expected, Integer.signum(Layout.compare(a, b)),
                    () -> "seed=" + SEED + " case=" + n + " ta=" + ta + " sa=" + sa + " tb=" + tb + " sb=" + sb);
        }
    }

    @Test
    void sortingWithCompareMatchesIssueOrder() {
        Layout layout = Layout.defaults();
        long signBit = layout.signBitDate().orElseThrow().toEpochMilli();
        List<Long> issued = new ArrayList<>();
        for (long t = signBit - 3; t <= signBit + 3; t++) {
            issued.add(layout.encode(t, 1, 1, 0, 0));
            issued.add(layout.encode(t, 1, 1, 0, 1023));
        }
        List<Long> sorted = new ArrayList<>(issued);
        Collections.reverse(sorted);
        sorted.sort(Layout::compare);
        assertEquals(issued, sorted);
    }

    // ---------------------------------------------------------------- format / parse

    @Test
    void formatWritesTheUnsignedDecimalAndParseReadsItBack() {
        assertFormatsAndParses(0L, "0");
        assertFormatsAndParses((1L << 53) + 1, "9007199254740993");
        assertFormatsAndParses(Long.MAX_VALUE, "9223372036854775807");
        assertFormatsAndParses(Long.MIN_VALUE, "9223372036854775808");
        assertFormatsAndParses(-1L, "18446744073709551615");
        assertEquals(1L, Layout.parse("00000000000000000001"), "20 digits with leading zeros");
    }

    private static void assertFormatsAndParses(long id, String text) {
        assertEquals(text, Layout.format(id));
        assertEquals(id, Layout.parse(text), text);
    }

    @Test
    void formatAndParseRoundTripRandomIds() {
        SplittableRandom random = new SplittableRandom(SEED + 3);
        for (int i = 0; i < CASES; i++) {
            int n = i;
            long id = random.nextLong();
            String expected = BigInteger.valueOf(id).mod(TWO_TO_THE_64).toString();
            String text = Layout.format(id);
            assertEquals(expected, text, () -> "seed=" + SEED + " case=" + n + " id(signed)=" + id);
            assertEquals(id, Layout.parse(text), () -> "seed=" + SEED + " case=" + n + " text=" + text);
        }
    }

    // ---------------------------------------------------------------- DecodedId

    /** 2040-02-29T12:34:56.789Z, after the sign-bit date, so bit 63 is set; productBits 2. */
    private static final long KNOWN_ID = Long.parseUnsignedLong("14995680235116990463");

    @Test
    void encodesTheKnownIdFromItsFields() {
        // offset 446,906,096,789 ms << 25 | idc 5 << 22 | worker 1000 << 12 | product 3 << 10 | sequence 1023
        Layout layout = Layout.unsigned(EPOCH_2026, 2);
        long id = layout.encode(Instant.parse("2040-02-29T12:34:56.789Z").toEpochMilli(), 5, 1000, 3, 1023);
        assertEquals(KNOWN_ID, id);
        assertEquals(-3_451_063_838_592_561_153L, id);
    }

    @Test
    void toJsonWritesTheIdAsAStringAndEveryField() {
        DecodedId d = Layout.unsigned(EPOCH_2026, 2).decode(KNOWN_ID);
        assertEquals("{\"id\":\"14995680235116990463\",\"timestamp\":\"2040-02-29T12:34:56.789Z\",\"epochMillis\":2214131696789,"
                + "\"idc\":5,\"worker\":1000,\"product\":3,\"sequence\":1023}", d.toJson());
    }

    @Test
    void decodedIdToStringShowsTheUnsignedId() {
        DecodedId d = Layout.unsigned(EPOCH_2026, 2).decode(KNOWN_ID);
        assertEquals("14995680235116990463 timestamp=2040-02-29T12:34:56.789Z idc=5 worker=1000 product=3 sequence=1023", d.toString());
        assertEquals("14995680235116990463", d.idString());
    }

    @Test
    void timestampOfReadsOnlyTheTimeBits() {
        Layout layout = Layout.unsigned(EPOCH_2026, 2);
        assertEquals(Instant.parse("2040-02-29T12:34:56.789Z"), layout.timestampOf(KNOWN_ID));
        assertEquals(EPOCH_2026, layout.timestampOf(0L));
        assertEquals(EPOCH_2026, layout.timestampOf((1L << 25) - 1), "all bits below the time field set");
        assertEquals(EPOCH_2026.plusMillis(1), layout.timestampOf(1L << 25));
        assertEquals(layout.endOfTime().minusMillis(1), layout.timestampOf(-1L));
        assertEquals(Instant.parse("2034-09-17T10:58:26.944Z"), layout.timestampOf(Long.MIN_VALUE));
    }

    // ---------------------------------------------------------------- equality

    @Test
    void layoutsAreEqualWhenTheyMakeTheSameIds() {
        Layout a = Layout.unsigned(EPOCH_2026, 2);
        Layout same = Layout.unsigned(Instant.parse("2026-01-01T00:00:00.000Z"), 2);
        assertEquals(a, same);
        assertEquals(a.hashCode(), same.hashCode());
        assertEquals(Layout.defaults(), Layout.unsigned(EPOCH_2026, 0));
        assertEquals(Layout.defaults().hashCode(), Layout.unsigned(EPOCH_2026, 0).hashCode());

        assertNotEquals(a, Layout.positive(EPOCH_2026, 2), "positive differs");
        assertNotEquals(a, Layout.unsigned(EPOCH_2026, 3), "productBits differ");
        assertNotEquals(a, Layout.unsigned(EPOCH_2026.plusMillis(1), 2), "epoch differs");
        assertNotEquals(a.hashCode(), Layout.positive(EPOCH_2026, 2).hashCode());
        assertNotEquals(a.hashCode(), Layout.unsigned(EPOCH_2026, 3).hashCode());
        assertNotEquals(a.hashCode(), Layout.unsigned(EPOCH_2026.plusMillis(1), 2).hashCode());
        assertNotEquals(a, null);
        assertNotEquals(a, "Layout");
    }

    @Test
    void decodedIdsAreEqualByValue() {
        Layout layout = Layout.unsigned(EPOCH_2026, 2);
        DecodedId d = layout.decode(KNOWN_ID);
        assertEquals(new DecodedId(KNOWN_ID, 2_214_131_696_789L, 5, 1000, 3, 1023), d);
        assertEquals(d.hashCode(), layout.decode(KNOWN_ID).hashCode());
        assertNotEquals(d, layout.decode(KNOWN_ID - 1));
        assertNotEquals(d, Layout.unsigned(EPOCH_2026, 1).decode(KNOWN_ID), "another layout reads other fields");
    }

    @Test
    void layoutToStringNamesEveryWidth() {
        assertEquals("Layout{epoch=2026-01-01T00:00:00Z, time=39 bits, idc=3 bits, worker=12 bits, product=0 bits, sequence=10 bits,"
                + " unsigned}", Layout.defaults().toString());
        assertEquals("Layout{epoch=2026-01-01T00:00:00Z, time=38 bits, idc=3 bits, worker=8 bits, product=4 bits, sequence=10 bits,"
                + " positive}", Layout.positive(EPOCH_2026, 4).toString());
    }

    // ---------------------------------------------------------------- IdRange

    @Test
    void idRangeCountsUpAsUnsignedAcrossBit63() {
        IdRange range = new IdRange(Long.MAX_VALUE - 1, 4);
        assertEquals(Long.MAX_VALUE - 1, range.get(0));
        assertEquals(Long.MAX_VALUE, range.get(1));
        assertEquals(Long.MIN_VALUE, range.get(2));
        assertEquals(Long.MIN_VALUE + 1, range.last());
        assertEquals(range.last(), range.get(3));
        assertEquals("IdRange{9223372036854775806..9223372036854775809, count=4}", range.toString());
        assertEquals(new IdRange(5, 1), new IdRange(5, 1));
        assertEquals(5, new IdRange(5, 1).last());
    }

    // ---------------------------------------------------------------- the builder's layout

    @Test
    void builderLayoutFollowsEpochPositiveAndProductBits() {
        assertEquals(Layout.defaults(), Ekko.newBuilder().layout());
        Instant epoch = Instant.parse("2020-02-02T02:02:02.002Z");
        assertEquals(Layout.positive(epoch, 3), Ekko.newBuilder().epoch(epoch).positiveIds(true).productBits(3).layout());
        assertEquals(Layout.unsigned(epoch, 1), Ekko.newBuilder().epoch(epoch).positiveIds(false).productBits(1).layout());
        assertEquals(Layout.unsigned(Instant.parse("2024-05-06T00:00:00Z"), 4),
                Ekko.newBuilder().setting("ekko.epoch", "2024-05-06").setting("ekko.product.bits", " 4 ").layout(),
                "a date is UTC midnight; values are trimmed");
    }
}
