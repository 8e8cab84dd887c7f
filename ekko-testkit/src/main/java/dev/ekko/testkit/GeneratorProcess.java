package dev.ekko.testkit;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Properties;

/**
 * The main class of a child JVM for tests that need a second process: builds a generator from
 * {@code key=value} arguments, prints {@code READY worker=N}, then obeys stdin: {@code next N} prints N
 * IDs (one per line, unsigned) then {@code OK}; {@code close} closes and exits. A start failure prints
 * {@code FAILED <exception class>: <message>} and exits 3.
 */
public final class GeneratorProcess {

    private GeneratorProcess() {
    }

    /**
     * Runs the child: see the class comment for the protocol.
     *
     * @param args {@code key=value} settings for the builder
     * @throws Exception if reading stdin or issuing fails
     */
    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        Properties p = new Properties();
        for (String a : args) {
            int eq = a.indexOf('=');
            p.setProperty(a.substring(0, eq), a.substring(eq + 1));
        }
        IdGenerator g;
        try {
            g = Ekko.newBuilder().properties(p).build();
        } catch (RuntimeException e) {
            out.println("FAILED " + e.getClass().getName() + ": " + e.getMessage());
            out.flush();
            System.exit(3);
            return;
        }
        out.println("READY worker=" + g.workerId());
        out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            if (line.startsWith("next ")) {
                int n = Integer.parseInt(line.substring(5).trim());
                StringBuilder sb = new StringBuilder();
                for (int i = 0; i < n; i++) {
                    sb.append(Long.toUnsignedString(g.next())).append('\n');
                }
                out.print(sb);
                out.println("OK");
                out.flush();
            } else if (line.equals("close")) {
                g.close();
                out.println("CLOSED");
                out.flush();
                System.exit(0);
            }
        }
        g.close();
    }
}
