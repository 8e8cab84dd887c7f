package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.TestServers;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.api.RangeRequest;
import io.etcd.jetcd.api.RequestOp;
import io.etcd.jetcd.api.TxnRequest;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.MethodDescriptor;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * What a renewal and an acquire make etcd read, counted as the keys that exist in the ranges their requests name: etcd reads a
 * whole range on the server before it applies a revision filter or a limit to it (filters are applied after the read), so
 * that count, not what the reply carries, is the server's work. The same holder renews, and a new one acquires, in an IDC
 * where 64 worker IDs have a history and then in one where 2,048 do: the counts must not grow with the number of worker IDs.
 */
class EtcdReadCostIT {

    private static final String CLASS_PREFIX = TestServers.etcdKeyPrefix(EtcdReadCostIT.class);
    private static final int IDC = 2;
    /**
     * The most keys one acquire with free worker IDs in sight may make etcd read: the generation, the instance's last worker
     * ID, the clock ring, two windows of released worker IDs, two keys per sampled candidate, the ring writers' lease keys,
     * the listing of lease keys that finds live holders with no reading in the ring and their histories, the fleet settings
     * and the claims' histories, each bounded by a constant of the allocator (the ring has 32 slots since they are claimed,
     * and the listing is new: 115 keys at most before, with 16 slots and no listing).
     */
    private static final int ACQUIRE_BOUND = 2 + EtcdWorkerAllocator.CLOCK_SLOTS + 2 * EtcdWorkerAllocator.FREE_HINTS
            + 2 * EtcdWorkerAllocator.SAMPLE + EtcdWorkerAllocator.CLOCK_SLOTS + EtcdWorkerAllocator.CLOCK_SLOTS
            + EtcdWorkerAllocator.UNREPRESENTED_READS + 1 + EtcdWorkerAllocator.CLAIMS_PER_ROUND;

    @AfterAll
    static void deleteThisClassesKeys() {
        SharedEtcd.deleteKeys(CLASS_PREFIX);
    }

    private static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    /** The ranges (key, range end) of every request sent while {@code recording} is set. */
    private static final class Recorder implements ClientInterceptor {
        final AtomicBoolean recording = new AtomicBoolean();
        final List<RangeRequest> ranges = new CopyOnWriteArrayList<>();

        @Override
        public <Q, S> ClientCall<Q, S> interceptCall(MethodDescriptor<Q, S> method, CallOptions options, Channel next) {
            return new ForwardingClientCall.SimpleForwardingClientCall<Q, S>(next.newCall(method, options)) {
                @Override
                public void sendMessage(Q message) {
                    if (recording.get()) {
                        if (message instanceof RangeRequest r) {
                            ranges.add(r);
                        } else if (message instanceof TxnRequest t) {
                            List<RequestOp> ops = new ArrayList<>(t.getSuccessList());
                            ops.addAll(t.getFailureList());
                            for (RequestOp op : ops) {
                                if (op.hasRequestRange()) {
                                    ranges.add(op.getRequestRange());
                                }
                            }
                        }
                    }
                    super.sendMessage(message);
                }
            };
        }
    }

    /** {@return how many keys exist in the ranges, counted by etcd now} */
    private static long keysIn(Client c, List<RangeRequest> ranges) throws Exception {
        long total = 0;
        for (RangeRequest r : ranges) {
            ByteSequence key = ByteSequence.from(r.getKey());
            GetOption.Builder o = GetOption.builder().withCountOnly(true);
            if (!r.getRangeEnd().equals(ByteString.EMPTY)) {
                o.withRange(ByteSequence.from(r.getRangeEnd()));
            }
            long count = c.getKVClient().get(key, o.build()).get(10, TimeUnit.SECONDS).getCount();
            boolean filtered = r.getMinModRevision() > 0 || r.getMaxModRevision() > 0 || r.getMinCreateRevision() > 0
                    || r.getMaxCreateRevision() > 0;
            // Without a filter etcd stops reading at the limit; with one it reads the whole range, then filters.
            total += r.getLimit() > 0 && !filtered ? Math.min(count, r.getLimit()) : count;
        }
        return total;
    }

    /** {@return the keys read by one renewal and by one acquire, in a fresh namespace where {@code histories} worker IDs have a history} */
    private static long[] measure(int histories) throws Exception {
        String namespace = CLASS_PREFIX + UUID.randomUUID().toString().substring(0, 8);
        try (Client c = Client.builder().endpoints(SharedEtcd.endpoints().split(",")).waitForReady(false).build()) {
            long now = System.currentTimeMillis();
            List<Op> ops = new ArrayList<>();
            for (int w = 100; w < 100 + histories; w++) {
                ops.add(Op.put(bytes(namespace + "/idc" + IDC + "/history/" + w), bytes("mark=" + (now - 10_000)
                        + "\ncluster=0\ngeneration=0\nwritten.at=" + (now - 10_000) + "\n"), PutOption.DEFAULT));
                if (ops.size() == 100 || w == 99 + histories) {
                    c.getKVClient().txn().Then(ops.toArray(new Op[0])).commit().get(10, TimeUnit.SECONDS);
                    ops.clear();
                }
            }
            Recorder recorder = new Recorder();
            AllocatorContext ctx = AllocatorContext.builder().idc(IDC).workerIds(4096).preferredWorkerId(7).instance("cost")
                    .host("host-cost").leaseTtl(Duration.ofSeconds(20)).setting("ekko.etcd.endpoints", SharedEtcd.endpoints())
                    .setting("ekko.etcd.namespace", namespace).build();
            Client recorded = Client.builder().endpoints(SharedEtcd.endpoints().split(",")).waitForReady(false).retryMaxAttempts(0)
                    .interceptor(recorder).build();
            try (WorkerAllocator a = new EtcdWorkerAllocator(ctx, EtcdSettings.from(ctx), recorded)) {
                WorkerLease l = a.acquire();
                l = a.renew(l, new ClockReport(now, now + 1000, "host-cost", 1, "cost"));
                recorder.recording.set(true);
                a.renew(l, new ClockReport(now, now + 1000, "host-cost", 1, "cost"));
                recorder.recording.set(false);
                long renewal = keysIn(c, recorder.ranges);
                recorder.ranges.clear();
                AllocatorContext other = AllocatorContext.builder().idc(IDC).workerIds(4096).instance("cost-2").host("host-cost-2")
                        .leaseTtl(Duration.ofSeconds(20)).setting("ekko.etcd.endpoints", SharedEtcd.endpoints())
                        .setting("ekko.etcd.namespace", namespace).build();
                recorder.recording.set(true);
                try (WorkerAllocator b = new EtcdWorkerAllocator(other, EtcdSettings.from(other), recorded)) {
                    b.acquire();
                }
                recorder.recording.set(false);
                long acquire = keysIn(c, recorder.ranges);
                System.out.println("READ COST with " + histories + " histories: renewal " + renewal + " keys, acquire " + acquire
                        + " keys");
                return new long[] {renewal, acquire};
            }
        }
    }

    @Test
    void renewalAndAcquireReadAsManyKeysWithTwoThousandWorkerIdsAsWithSixtyFour() throws Exception {
        long[] small = measure(64);
        long[] large = measure(2048);
        assertEquals(small[0], large[0], "keys a renewal makes etcd read: " + small[0] + " with 64 histories, " + large[0]
                + " with 2048");
        assertTrue(large[1] <= ACQUIRE_BOUND && small[1] <= ACQUIRE_BOUND, "keys an acquire makes etcd read: " + small[1]
                + " with 64 histories, " + large[1] + " with 2048 (at most " + ACQUIRE_BOUND + " allowed, whatever the number of"
                + " worker IDs)");
    }
}
