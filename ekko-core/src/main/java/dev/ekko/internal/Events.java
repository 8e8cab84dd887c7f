package dev.ekko.internal;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.FlightRecorder;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;
import jdk.jfr.Timestamp;

/**
 * The generator's JDK Flight Recorder events, under the category "Ekko": lease acquired, renewed late and lost, a clock
 * step back met by a caller, the wait for the start floor, and a reservation extended by a caller. They cost nothing
 * unless a recording enables them ({@code jcmd <pid> JFR.start}, or {@code -XX:StartFlightRecording}); every one is
 * raised on a slow path (the keeper thread, a wait, a refusal), never per ID.
 *
 * <p>No event class is touched until the JVM's Flight Recorder is initialized (a recording was started, by
 * {@code jcmd JFR.start}, {@code -XX:StartFlightRecording} or the API): the first use of an event class initializes
 * JFR's event machinery, which cost a cold start about 100 ms and 400 KiB here ({@code ./bench short}, start-up).
 */
final class Events {

    private Events() {
    }

    /** {@return whether events may be recorded: JFR is initialized in this JVM (cheap: a static field)} */
    private static boolean on() {
        return FlightRecorder.isInitialized();
    }

    static void leaseAcquired(int idc, int workerId, String allocator, long floorMillis, boolean reacquire) {
        if (!on()) {
            return;
        }
        LeaseAcquired e = new LeaseAcquired();
        if (e.isEnabled()) {
            e.idc = idc;
            e.workerId = workerId;
            e.allocator = allocator;
            e.floor = floorMillis;
            e.reacquire = reacquire;
            e.commit();
        }
    }

    static void leaseRenewedLate(int idc, int workerId, long sinceLastSuccessMillis, long pastFenceDeadlineMillis, int failedBefore) {
        if (!on()) {
            return;
        }
        LeaseRenewedLate e = new LeaseRenewedLate();
        if (e.isEnabled()) {
            e.idc = idc;
            e.workerId = workerId;
            e.sinceLastSuccess = sinceLastSuccessMillis;
            e.pastFenceDeadline = pastFenceDeadlineMillis;
            e.failedBefore = failedBefore;
            e.commit();
        }
    }

    static void leaseLost(int idc, int workerId, String reason) {
        if (!on()) {
            return;
        }
        LeaseLost e = new LeaseLost();
        if (e.isEnabled()) {
            e.idc = idc;
            e.workerId = workerId;
            e.reason = reason;
            e.commit();
        }
    }

    static void clockStepBack(long lastIssuedMillis, long clockMillis, long allowedWaitMillis) {
        if (!on()) {
            return;
        }
        ClockStepBack e = new ClockStepBack();
        if (e.isEnabled()) {
            e.lastIssued = lastIssuedMillis;
            e.clock = clockMillis;
            e.behind = lastIssuedMillis - clockMillis;
            e.allowedWait = allowedWaitMillis;
            e.commit();
        }
    }

    /** {@return a started floor-wait event (null while JFR is not initialized), to {@link #end(FloorWait)} when the wait is over} */
    static FloorWait floorWait(int idc, int workerId, long floorMillis, String reason) {
        if (!on()) {
            return null;
        }
        FloorWait e = new FloorWait();
        if (e.isEnabled()) {
            e.idc = idc;
            e.workerId = workerId;
            e.floor = floorMillis;
            e.reason = reason;
            e.begin();
        }
        return e;
    }

    static void end(FloorWait e) {
        if (e != null && e.isEnabled()) {
            e.commit();
        }
    }

    /** {@return a started event for a caller extending the reservation (null while JFR is not initialized), to {@link #end(ReservationExtended, long)}} */
    static ReservationExtended reservationExtended(int idc, int workerId, long wantedMillis) {
        if (!on()) {
            return null;
        }
        ReservationExtended e = new ReservationExtended();
        if (e.isEnabled()) {
            e.idc = idc;
            e.workerId = workerId;
            e.wanted = wantedMillis;
            e.begin();
        }
        return e;
    }

    static void end(ReservationExtended e, long issueLimitMillis) {
        if (e != null && e.isEnabled()) {
            e.issueLimit = issueLimitMillis;
            e.commit();
        }
    }

    @Name("dev.ekko.LeaseAcquired")
    @Label("Lease Acquired")
    @Category("Ekko")
    @Description("A worker ID was acquired and a term started on it (issuing starts past the floor)")
    @StackTrace(false)
    static final class LeaseAcquired extends Event {
        @Label("IDC")
        int idc;
        @Label("Worker ID")
        int workerId;
        @Label("Allocator")
        String allocator;
        @Label("Floor")
        @Description("The last millisecond earlier holders may have used: the first ID is past it")
        @Timestamp(Timestamp.MILLISECONDS_SINCE_EPOCH)
        long floor;
        @Label("Re-acquire")
        @Description("Acquired again after a lost lease")
        boolean reacquire;
    }

    @Name("dev.ekko.LeaseRenewedLate")
    @Label("Lease Renewed Late")
    @Category("Ekko")
    @Description("A renewal succeeded after failed attempts, or after the fence deadline had passed")
    @StackTrace(false)
    static final class LeaseRenewedLate extends Event {
        @Label("IDC")
        int idc;
        @Label("Worker ID")
        int workerId;
        @Label("Since Last Success")
        @Timespan(Timespan.MILLISECONDS)
        long sinceLastSuccess;
        @Label("Past Fence Deadline")
        @Description("How long callers were refused because no renewal succeeded in time (0 if none)")
        @Timespan(Timespan.MILLISECONDS)
        long pastFenceDeadline;
        @Label("Failed Attempts Before")
        int failedBefore;
    }

    @Name("dev.ekko.LeaseLost")
    @Label("Lease Lost")
    @Category("Ekko")
    @Description("The lease is gone (found by a renewal or reported by the back end), or the state file was changed under the"
            + " generator: no IDs until a worker ID is acquired again")
    @StackTrace(false)
    static final class LeaseLost extends Event {
        @Label("IDC")
        int idc;
        @Label("Worker ID")
        int workerId;
        @Label("Reason")
        String reason;
    }

    @Name("dev.ekko.ClockStepBack")
    @Label("Clock Step Back")
    @Category("Ekko")
    @Description("A caller found the clock behind the last issued millisecond: it waits up to the allowed time, then is refused")
    static final class ClockStepBack extends Event {
        @Label("Last Issued")
        @Timestamp(Timestamp.MILLISECONDS_SINCE_EPOCH)
        long lastIssued;
        @Label("Clock")
        @Timestamp(Timestamp.MILLISECONDS_SINCE_EPOCH)
        long clock;
        @Label("Behind")
        @Timespan(Timespan.MILLISECONDS)
        long behind;
        @Label("Allowed Wait")
        @Timespan(Timespan.MILLISECONDS)
        long allowedWait;
    }

    @Name("dev.ekko.FloorWait")
    @Label("Wait for the Start Floor")
    @Category("Ekko")
    @Description("A new term waits until the clock passes the floor before it issues")
    @StackTrace(false)
    static final class FloorWait extends Event {
        @Label("IDC")
        int idc;
        @Label("Worker ID")
        int workerId;
        @Label("Floor")
        @Timestamp(Timestamp.MILLISECONDS_SINCE_EPOCH)
        long floor;
        @Label("Reason")
        String reason;
    }

    @Name("dev.ekko.ReservationExtended")
    @Label("Reservation Extended by a Caller")
    @Category("Ekko")
    @Description("A caller reached the issue limit before the keeper raised it and renewed, reported and forced it itself")
    static final class ReservationExtended extends Event {
        @Label("IDC")
        int idc;
        @Label("Worker ID")
        int workerId;
        @Label("Wanted")
        @Timestamp(Timestamp.MILLISECONDS_SINCE_EPOCH)
        long wanted;
        @Label("Issue Limit")
        @Timestamp(Timestamp.MILLISECONDS_SINCE_EPOCH)
        long issueLimit;
    }
}
