package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.spi.AllocatorContext;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class MysqlSettingsTest {

    private static AllocatorContext.Builder context(String url) {
        return AllocatorContext.builder().setting("ekko.mysql.url", url);
    }

    @Test
    void defaults() {
        MysqlSettings s = MysqlSettings.from(context("jdbc:mysql://db.internal:3306/ids").build());
        assertEquals("ekko_worker_ids", s.table());
        assertEquals("ekko", s.namespace());
        assertEquals(2, s.poolSize());
        assertEquals(Duration.ofSeconds(2), s.timeout());
        assertEquals("MysqlSettings{url=jdbc:mysql://db.internal:3306/ids, user=(the URL's), password=(none), table=ekko_worker_ids,"
                + " namespace=ekko, poolSize=2, timeout=2000ms}", s.toString());
    }

    @Test
    void thePasswordIsMaskedEverywhere() {
        MysqlSettings s = MysqlSettings.from(context("jdbc:mysql://u:pw1@db:3306/ids?useSSL=false&password=pw2")
                .setting("ekko.mysql.user", "ids").setting("ekko.mysql.password", "pw3").build());
        String shown = s.toString() + s.where() + s.masked("Access denied pw3");
        assertFalse(shown.contains("pw1") || shown.contains("pw2") || shown.contains("pw3"), shown);
        assertEquals("jdbc:mysql://u:***@db:3306/ids?useSSL=false&password=***", s.shownUrl());
        assertTrue(s.toString().contains("password=***"), s.toString());
    }

    /** Connector/J reads a query-string password up to the next '&': a ',', ';', ')' or blank in it is part of it. */
    @Test
    void aUrlPasswordIsMaskedWholeWhateverItHolds() {
        for (String secret : new String[] {"ab,cd-tail", "ab;cd-tail", "ab)cd-tail", "ab cd-tail", "ab(c)d-tail"}) {
            MysqlSettings s = MysqlSettings.from(context("jdbc:mysql://db:3306/ids?user=u&password=" + secret + "&useSSL=false").build());
            String shown = s.toString() + " | " + s.where() + " | " + s.masked("driver said: url jdbc:mysql://db:3306/ids?user=u&password="
                    + secret + " refused");
            assertFalse(shown.contains("cd-tail"), shown);
            assertTrue(s.where().endsWith(" table ekko_worker_ids namespace ekko"), s.where());
            assertEquals("jdbc:mysql://db:3306/ids?user=u&password=***&useSSL=false", s.shownUrl());
        }
        // In the host form a ',' or ')' ends the value.
        MysqlSettings hostForm = MysqlSettings.from(context("jdbc:mysql://(host=db,port=3306,user=u,password=pw-secret)/ids").build());
        assertEquals("jdbc:mysql://(host=db,port=3306,user=u,password=***)/ids", hostForm.shownUrl());
    }

    @Test
    void badValuesNameKeyValueAndWhatIsAllowed() {
        assertEquals("must be >= 1 && <= 64: ekko.mysql.pool.size=65", assertThrows(IllegalArgumentException.class,
                () -> MysqlSettings.from(context("jdbc:mysql://db/ids").setting("ekko.mysql.pool.size", "65").build())).getMessage()
                .replace("\"", ""));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> MysqlSettings.from(context("jdbc:mysql://db/ids")
                .setting("ekko.mysql.namespace", "a b").build())).getMessage().endsWith("ekko.mysql.namespace=\"a b\""));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> MysqlSettings.from(context("jdbc:postgresql://db/ids").build()))
                .getMessage().startsWith("must be a MySQL Connector/J URL"));
    }
}
