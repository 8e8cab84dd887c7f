package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ekko.EkkoException;
import dev.ekko.LeaseLostException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testkit.Issuer;
import dev.ekko.testsupport.DisposableRedis;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

/**
 * The configuration docs/redis.md gives for a primary with replicas: {@code min-replicas-to-write 1} and a
 * {@code min-replicas-max-lag} within the lease margin. After a failover that leaves the old primary running (the case
 * {@link RedisSplitBrainReviewIT} shows), the old primary, cut off from its replica, refuses the renewals of the holders
 * still connected to it within about the max lag: they stop at their fence deadline, before a holder on the promoted
 * replica, which waits one TTL plus the skew for a worker ID whose marks it cannot vouch for, may start.
 */
class RedisFailoverFencingIT {

    private static WorkerAllocator allocator(DisposableRedis server, String host) {
        return new RedisAllocatorProvider().create(AllocatorContext.builder().idc(1).workerIds(256).preferredWorkerId(7)
                .instance(host).host(host).leaseTtl(Duration.ofSeconds(30)).setting("ekko.redis.uri", server.uri())
                .setting("ekko.redis.namespace", "failover").build());
    }

    private static ClockReport report(String host) {
        long now = System.currentTimeMillis();
        return new ClockReport(now, now + 30_000, host, 1, host);
    }

    @Test
    void anOldPrimaryWithMinReplicasToWriteRefusesRenewalsOnceItsReplicaWasPromoted() throws Exception {
        try (DisposableRedis primary = DisposableRedis.launch(); DisposableRedis replica = DisposableRedis.launch()) {
            try (Jedis p = new Jedis(java.net.URI.create(primary.uri())); Jedis r = new Jedis(java.net.URI.create(replica.uri()))) {
                p.configSet("min-replicas-to-write", "1");
                p.configSet("min-replicas-max-lag", "1");
                r.replicaof("127.0.0.1", primary.port());
                Issuer.await("replica in sync", Duration.ofSeconds(20), () -> r.info("replication").contains("master_link_status:up")
                        && p.info("replication").contains("min_slaves_good_slaves:1"));
                WorkerAllocator a = allocator(primary, "host-a");
                WorkerLease la = a.acquire();
                assertEquals(7, la.workerId());
                la = a.renew(la, report("host-a"));
                r.replicaofNoOne(); // failover; the old primary stays up for host-a
                long promotedAt = System.nanoTime();
                EkkoException refused = null;
                while (refused == null) {
                    if (System.nanoTime() - promotedAt > Duration.ofSeconds(10).toNanos()) {
                        fail("the old primary still accepted host-a's renewals 10 s after its replica was promoted");
                    }
                    try {
                        la = a.renew(la, report("host-a"));
                        Thread.sleep(100);
                    } catch (LeaseLostException e) {
                        throw new AssertionError("not a lost lease: the old primary still has it", e);
                    } catch (EkkoException e) {
                        refused = e;
                    }
                }
                assertTrue(refused.getMessage().contains("NOREPLICAS"), refused.getMessage());
                a.close();
            }
        }
    }
}
