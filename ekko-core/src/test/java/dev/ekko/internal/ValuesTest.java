package dev.ekko.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The short duration form ({@code 500ms}, {@code 3 s}) is scanned by hand, not by a regular expression (whose compile costs
 * a cold start): it must accept and refuse exactly what the expression {@code (\d{1,12})\s*(ms|s|m|h)} did.
 */
class ValuesTest {

    private static final Pattern ORACLE = Pattern.compile("(\\d{1,12})\\s*(ms|s|m|h)");

    /** {@return what the regular expression made of it: the duration, or null where it fell through to ISO-8601} */
    private static Duration oracle(String text) {
        Matcher m = ORACLE.matcher(text.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            return null;
        }
        long n = Long.parseLong(m.group(1));
        switch (m.group(2)) {
            case "ms": return Duration.ofMillis(n);
            case "s": return Duration.ofSeconds(n);
            case "m": return Duration.ofMinutes(n);
            default: return Duration.ofHours(n);
        }
    }

    private static String outcome(String text) {
        try {
            return String.valueOf(Values.duration("k", text));
        } catch (IllegalArgumentException e) {
            return "refused";
        }
    }

    private static String oracleOutcome(String text) {
        Duration d = oracle(text);
        if (d != null) {
            return d.toString();
        }
        try {
            return Duration.parse(text.trim()).toString();
        } catch (java.time.format.DateTimeParseException e) {
            return "refused";
        }
    }

    @Test
    void acceptsAndRefusesWhatTheRegularExpressionDid() {
        List<String> inputs = new ArrayList<>(List.of("500ms", "3s", "2m", "1h", " 7 s ", "7\ts", "7\n\nms", "3S", "3MS", "PT3S",
                "pt3s", "0s", "000000000001h", "999999999999ms", "1234567890123s", "", " ", "s", "ms", "-3s", "+3s", "3", "3x",
                "3 sec", "3ss", "3 m s", "\u0663s", "3\u00a0s", "3d", "PT0.5S", "P1D", "1.5s", "3 s3", "x3s"));
        Random r = new Random(42);
        String alphabet = "0123456789 \tmshMSHPTxd.-";
        for (int i = 0; i < 20_000; i++) {
            StringBuilder b = new StringBuilder();
            int n = r.nextInt(8);
            for (int j = 0; j < n; j++) {
                b.append(alphabet.charAt(r.nextInt(alphabet.length())));
            }
            inputs.add(b.toString());
        }
        int accepted = 0;
        for (String in : inputs) {
            String expected = oracleOutcome(in);
            assertEquals(expected, outcome(in), "\"" + in + "\"");
            if (!expected.equals("refused")) {
                accepted++;
            }
        }
        assertTrue(accepted > 100, accepted + " accepted: the random inputs test too little");
    }

    @Test
    void refusalNamesTheKeyAndTheValue() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Values.duration("ekko.x", "3 weeks"));
        assertEquals("must be a duration such as 500ms, 3s, 2m, 1h or PT3S: ekko.x=3 weeks", e.getMessage());
    }
}
