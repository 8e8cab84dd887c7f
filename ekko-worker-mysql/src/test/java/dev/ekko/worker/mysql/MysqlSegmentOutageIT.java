package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Ekko;
import dev.ekko.SegmentGenerator;
import dev.ekko.SegmentIds;
import dev.ekko.SegmentStoreException;
import dev.ekko.testsupport.DisposableMariaDb;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The store killed (SIGKILL) and started again under load: callers keep getting numbers from the buffered ranges, then
 * {@link SegmentStoreException} naming the store, and numbers again once it is back; no number repeats across the outage,
 * and each thread's numbers increase. Against a MariaDB of the test's own (it is killed).
 */
class MysqlSegmentOutageIT {

    @Test
    void aStoreKilledAndStartedAgainUnderLoadRepeatsNoNumber() throws Exception {
        try (DisposableMariaDb db = DisposableMariaDb.launch()) {
            Map<String, String> store = Map.of("ekko.mysql.url", db.jdbcUrl(), "ekko.mysql.user", db.user(), "ekko.mysql.password",
                    db.password(), "ekko.mysql.timeout", "1s");
            try (SegmentIds segments = Ekko.newSegmentBuilder().store("mysql", store).setting("ekko.segment.step.min", "200")
                    .setting("ekko.segment.step.max", "2000").build()) {
                segments.define("outage", 1, Long.MAX_VALUE);
                SegmentGenerator g = segments.generator("outage");
                AtomicBoolean stop = new AtomicBoolean();
                AtomicInteger refusals = new AtomicInteger();
                List<String> messages = new ArrayList<>();
                List<List<Long>> got = new ArrayList<>();
                List<Thread> threads = new ArrayList<>();
                for (int t = 0; t < 3; t++) {
                    List<Long> mine = new ArrayList<>();
                    got.add(mine);
                    Thread th = new Thread(() -> {
                        while (!stop.get()) {
                            try {
                                mine.add(g.next());
                                if (mine.size() % 50 == 0) {
                                    Thread.sleep(1);
                                }
                            } catch (SegmentStoreException e) {
                                refusals.incrementAndGet();
                                synchronized (messages) {
                                    if (messages.isEmpty()) {
                                        messages.add(e.getMessage());
                                    }
                                }
                                try {
                                    Thread.sleep(50);
                                } catch (InterruptedException ie) {
                                    return;
                                }
                            } catch (InterruptedException e) {
                                return;
                            }
                        }
                    });
                    threads.add(th);
                    th.start();
                }
                Thread.sleep(1500);
                db.kill();
                Thread.sleep(3000); // the buffered ranges run out, then callers are refused
                int refusedWhileDown = refusals.get();
                db.start();
                long before = got.stream().mapToLong(List::size).sum();
                Thread.sleep(3000);
                stop.set(true);
                for (Thread th : threads) {
                    th.join();
                }
                long after = got.stream().mapToLong(List::size).sum();
                assertTrue(refusedWhileDown > 0, "no caller was refused while the store was down");
                assertTrue(messages.get(0).contains("segment name \"outage\" has used up every range it held and no store gave it"
                        + " another (mysql jdbc:mysql://"), messages.get(0));
                assertTrue(after > before, "no number after the store came back");
                Set<Long> all = new HashSet<>();
                for (List<Long> mine : got) {
                    for (int i = 0; i < mine.size(); i++) {
                        assertTrue(all.add(mine.get(i)), "number " + mine.get(i) + " handed out twice");
                        if (i > 0) {
                            assertTrue(mine.get(i) > mine.get(i - 1), "a thread went back: " + mine.get(i - 1) + " then " + mine.get(i));
                        }
                    }
                }
                assertEquals(after, all.size());
            }
        }
    }
}
