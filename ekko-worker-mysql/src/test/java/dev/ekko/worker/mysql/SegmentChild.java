package dev.ekko.worker.mysql;

import dev.ekko.Ekko;
import dev.ekko.SegmentGenerator;
import dev.ekko.SegmentIds;
import java.io.DataOutputStream;
import java.io.FileOutputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * A process of segment-mode tests: builds {@link SegmentIds} over the stores in a properties file ({@code stores=N}, then
 * {@code store.<i>.<key>=<value>}), and from THREADS threads takes COUNT numbers each of NAME (next() and batches mixed),
 * writing each thread's numbers, in the order it got them, to OUT.<thread> (8 bytes each). Prints "done" when finished.
 *
 * <p>Arguments: PROPERTIES NAME THREADS COUNT OUT
 */
public final class SegmentChild {

    private SegmentChild() {
    }

    /**
     * Runs the child.
     *
     * @param args PROPERTIES NAME THREADS COUNT OUT
     * @throws Exception on failure (the exit status is then not 0)
     */
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(Path.of(args[0]), StandardCharsets.UTF_8)) {
            p.load(r);
        }
        String name = args[1];
        int threads = Integer.parseInt(args[2]);
        int count = Integer.parseInt(args[3]);
        String out = args[4];
        SegmentIds.Builder b = Ekko.newSegmentBuilder().setting("ekko.segment.step.min", p.getProperty("step.min", "50"))
                .setting("ekko.segment.step.max", p.getProperty("step.max", "400")).setting("ekko.segment.step.target", "1m");
        int stores = Integer.parseInt(p.getProperty("stores"));
        for (int i = 0; i < stores; i++) {
            Map<String, String> s = new TreeMap<>();
            String prefix = "store." + i + ".";
            for (String k : p.stringPropertyNames()) {
                if (k.startsWith(prefix)) {
                    s.put(k.substring(prefix.length()), p.getProperty(k));
                }
            }
            b.store("mysql", s);
        }
        try (SegmentIds segments = b.build()) {
            SegmentGenerator g = segments.generator(name);
            Thread[] ts = new Thread[threads];
            Throwable[] failed = new Throwable[1];
            for (int t = 0; t < threads; t++) {
                int tt = t;
                ts[t] = new Thread(() -> {
                    try (DataOutputStream o = new DataOutputStream(new java.io.BufferedOutputStream(new FileOutputStream(out + "." + tt)))) {
                        long[] batch = new long[17];
                        for (int done = 0; done < count; ) {
                            if (done % 3 == 0) {
                                o.writeLong(g.next());
                                done++;
                            } else {
                                int n = Math.min(batch.length, count - done);
                                g.next(batch, 0, n);
                                for (int i = 0; i < n; i++) {
                                    o.writeLong(batch[i]);
                                }
                                done += n;
                            }
                            o.flush(); // what a SIGKILL leaves in the file was handed out

                        }
                    } catch (Throwable e) {
                        failed[0] = e;
                    }
                });
                ts[t].start();
            }
            for (Thread t : ts) {
                t.join();
            }
            if (failed[0] != null) {
                throw new IllegalStateException(failed[0]);
            }
        }
        System.out.println("done");
    }
}
