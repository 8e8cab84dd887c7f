package dev.ekko.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.ClockMovedBackwardsException;
import dev.ekko.EkkoException;
import dev.ekko.GeneratorStatus;
import dev.ekko.Layout;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testkit.TestClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The JFR events of a generator's life, recorded the way an operator would ({@code JFR.start}), dumped and read back:
 * each event is raised by the fault it describes, with its fields; and nothing is recorded without a recording.
 */
class GeneratorEventsTest {

    @TempDir
    Path dir;

    private final TestClock clock = new TestClock();
    private final LeaseLifecycleTest.ScriptedAllocator allocator = new LeaseLifecycleTest.ScriptedAllocator();
    private EkkoGenerator generator;

    @AfterEach
    void close() {
        if (generator != null) {
            generator.close();
        }
    }

    private GeneratorSettings settings() {
        return new GeneratorSettings(Layout.defaults(), 2, 0, clock, dir.resolve("state"), "scripted", Duration.ofMillis(500),
                Duration.ZERO, Duration.ofMillis(600), Duration.ofMillis(200), Duration.ofSeconds(1), Duration.ofMillis(300), "test",
                "host-a", 1);
    }

    private static WorkerLease lease(int worker, Handover handover) {
        return new WorkerLease(worker, "token-" + worker + "-" + System.nanoTime(), Duration.ofSeconds(2), System.nanoTime(), handover,
                WorkerLease.UNKNOWN_TIME, null);
    }

    private void await(java.util.function.Predicate<GeneratorStatus> condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.test(generator.status())) {
            assertTrue(System.nanoTime() < deadline, "status never reached: " + generator.status());
            Thread.sleep(5);
        }
    }

    @Test
    void anOutageIsOnTheRecordingsTimelineEventByEvent() throws Exception {
        Path file = dir.resolve("ekko.jfr");
        List<RecordedEvent> events;
        long mark;
        try (Recording recording = new Recording()) {
            for (String name : List.of("LeaseAcquired", "LeaseRenewedLate", "LeaseLost", "ClockStepBack", "FloorWait",
                    "ReservationExtended")) {
                recording.enable("dev.ekko." + name).withThreshold(Duration.ZERO);
            }
            recording.start();

            // Start past a mark 300 ms ahead: the floor wait.
            mark = clock.millis() + 300;
            LeaseRelay relay = new LeaseRelay();
            WorkerLease first = lease(3, Handover.mark(mark));

            allocator.next = () -> first;
            generator = EkkoGenerator.start(settings(), allocator, relay);

            // The coordinator stops answering past the fence deadline, then answers again: a late renewal.
            allocator.renewFailure = new EkkoException("connection refused: 127.0.0.1:1");
            await(s -> s.state() == GeneratorStatus.State.PAUSED);
            allocator.renewFailure = null;
            await(s -> s.state() == GeneratorStatus.State.LIVE);

            // The lease is lost, then another acquired, which does not expire (as manual's).
            relay.leaseLost(first, "a watch saw the lease's key deleted");
            allocator.next = () -> new WorkerLease(4, "token-4", Duration.ZERO, System.nanoTime(), Handover.mark(0),
                    WorkerLease.UNKNOWN_TIME, null);
            await(s -> s.state() == GeneratorStatus.State.LIVE && s.workerId() == 4);

            // The clock jumps 1 s ahead, past the 600 ms reservation, before the keeper's next renewal: the caller extends it.
            clock.freeze();
            clock.stepMillis(1000);
            generator.next();

            // The clock steps back 2 s: refused once the last millisecond is used up.
            clock.stepMillis(-2000);
            assertThrows(ClockMovedBackwardsException.class, () -> {
                for (int i = 0; i < 1100; i++) {
                    generator.next();
                }
            });

            recording.stop();
            recording.dump(file);
        }
        events = RecordingFile.readAllEvents(file);

        List<RecordedEvent> acquired = named(events, "dev.ekko.LeaseAcquired");
        assertEquals(2, acquired.size(), acquired.toString());
        assertEquals(3, acquired.get(0).getInt("workerId"));
        assertEquals("scripted", acquired.get(0).getString("allocator"));
        assertEquals(Instant.ofEpochMilli(mark), acquired.get(0).getInstant("floor"));
        assertFalse(acquired.get(0).getBoolean("reacquire"));
        assertEquals(4, acquired.get(1).getInt("workerId"));
        assertTrue(acquired.get(1).getBoolean("reacquire"));

        List<RecordedEvent> floor = named(events, "dev.ekko.FloorWait");
        assertEquals(1, floor.size(), floor.toString());
        assertEquals(Instant.ofEpochMilli(mark), floor.get(0).getInstant("floor"));
        Instant waitEnded = floor.get(0).getStartTime().plus(floor.get(0).getDuration());
        assertTrue(!floor.get(0).getDuration().isZero() && waitEnded.toEpochMilli() >= mark - 20, "waited for the floor: " + floor.get(0));

        List<RecordedEvent> late = named(events, "dev.ekko.LeaseRenewedLate");
        assertEquals(1, late.size(), late.toString());
        assertTrue(late.get(0).getInt("failedBefore") >= 1, late.toString());
        assertTrue(late.get(0).getDuration("pastFenceDeadline").toMillis() >= 0, late.toString());

        List<RecordedEvent> extended = named(events, "dev.ekko.ReservationExtended");
        assertEquals(1, extended.size(), extended.toString());
        assertTrue(!extended.get(0).getInstant("issueLimit").isBefore(extended.get(0).getInstant("wanted")), extended.toString());

        List<RecordedEvent> back = named(events, "dev.ekko.ClockStepBack");
        assertEquals(1, back.size(), back.toString());
        assertTrue(back.get(0).getDuration("behind").toMillis() >= 1999, back.toString());
        assertEquals(500, back.get(0).getDuration("allowedWait").toMillis());

        List<RecordedEvent> lost = named(events, "dev.ekko.LeaseLost");
        assertEquals(1, lost.size(), lost.toString());
        assertEquals(3, lost.get(0).getInt("workerId"));
        assertTrue(lost.get(0).getString("reason").contains("a watch saw the lease's key deleted"), lost.toString());
    }

    /** {@code jcmd <pid> JFR.start} with no settings uses the "default" configuration: it must record Ekko's events. */
    @Test
    void theDefaultConfigurationOfJfrStartRecordsThem() throws Exception {
        Path file = dir.resolve("default.jfr");
        try (Recording recording = new Recording(jdk.jfr.Configuration.getConfiguration("default"))) {
            recording.start();
            LeaseRelay relay = new LeaseRelay();
            WorkerLease first = lease(6, Handover.mark(0));
            allocator.next = () -> first;
            generator = EkkoGenerator.start(settings(), allocator, relay);
            relay.leaseLost(first, "taken over");
            await(s -> s.counters().leaseLosses() == 1);
            recording.stop();
            recording.dump(file);
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(file);
        assertEquals(1, named(events, "dev.ekko.LeaseAcquired").size());
        assertEquals(1, named(events, "dev.ekko.LeaseLost").size());
    }

    @Test
    void withoutARecordingNothingIsRecorded() throws Exception {
        allocator.next = () -> lease(5, Handover.mark(0));
        generator = EkkoGenerator.start(settings(), allocator);
        generator.close();
        assertFalse(new Events.LeaseLost().isEnabled(), "no recording enables the events");
    }

    private static List<RecordedEvent> named(List<RecordedEvent> events, String name) {
        return events.stream().filter(e -> e.getEventType().getName().equals(name)).collect(Collectors.toList());
    }
}
