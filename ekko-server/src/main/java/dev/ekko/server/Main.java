package dev.ekko.server;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * {@code java -jar ekko-server-VERSION-all.jar [ekko.KEY=VALUE ...]} (and {@code ./ekko serve}): starts an
 * {@link EkkoServer}, prints where it listens, and runs until SIGTERM or SIGINT, then closes it (giving the worker ID back).
 * Exit status: 2 for a bad setting, 1 if it could not start; stopped by a signal, the JVM's (143 for SIGTERM) once the
 * server is closed.
 */
public final class Main {

    private Main() {
    }

    /**
     * Runs the server.
     *
     * @param args {@code ekko.KEY=VALUE} settings, which win over {@code EKKO_*} variables and {@code -Dekko.*} properties
     */
    public static void main(String[] args) {
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            // one line per record, before java.util.logging starts: time, level, logger, message, then the stack trace
            System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT.%1$tLZ %4$s %3$s: %5$s%6$s%n");
        }
        int status = run(args, System.out, System.err);
        if (status != 0) {
            System.exit(status);
        }
    }

    /**
     * Starts the server and waits for the JVM to be asked to stop.
     *
     * @param args the settings
     * @param out where the listening lines go
     * @param err where errors go
     * @return the exit status if the server could not start; otherwise this method returns only at shutdown, with 0
     */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        Map<String, String> settings = new LinkedHashMap<>();
        for (String a : args) {
            if (a.equals("-h") || a.equals("--help")) {
                out.println("usage: ekko-server [ekko.KEY=VALUE ...]");
                out.println("Serves snowflake IDs and segment numbers over HTTP/JSON and gRPC. Settings: ekko.server.* (docs/server.md),");
                out.println("the generator's ekko.* keys and segment mode's ekko.segment.*, also as EKKO_* variables and -Dekko.* properties.");
                return 0;
            }
            int eq = a.indexOf('=');
            if (eq <= 0 || !a.startsWith("ekko.")) {
                err.println("ekko-server: arguments must be ekko.KEY=VALUE settings, e.g. ekko.server.http.port=8080: "
                        + (a.startsWith("ekko.") ? a.substring(0, Math.max(eq, 0)) : a.replaceFirst("=.*", "=...")));
                return 2;
            }
            settings.put(a.substring(0, eq), a.substring(eq + 1));
        }
        EkkoServer server;
        try {
            server = EkkoServer.start(settings);
        } catch (IllegalArgumentException e) {
            err.println("ekko-server: " + e.getMessage());
            return 2;
        } catch (Exception e) {
            err.println("ekko-server: could not start: " + e.getMessage());
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            out.println("ekko-server: stopped; worker ID given back");
            out.flush();
            stopped.countDown();
        }, "ekko-server-shutdown"));
        if (server.httpPort() >= 0) {
            out.println("ekko-server: http listening on port " + server.httpPort());
        }
        if (server.grpcPort() >= 0) {
            out.println("ekko-server: grpc listening on port " + server.grpcPort());
        }
        out.println("ekko-server: serving idc=" + server.generator().idc() + " worker=" + server.generator().workerId());
        out.flush();
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }
}
