package dev.ekko.testsupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class MysqlUrlsTest {

    @Test
    void replacesTheDatabaseAndKeepsTheParameters() {
        assertEquals("jdbc:mysql://127.0.0.1:3306/other?sslMode=DISABLED&x=y",
                MysqlUrls.withDatabase("jdbc:mysql://127.0.0.1:3306/ekko_test?sslMode=DISABLED&x=y", "other"));
    }

    @Test
    void addsADatabaseToAUrlWithoutOne() {
        assertEquals("jdbc:mysql://h:1/other", MysqlUrls.withDatabase("jdbc:mysql://h:1", "other"));
        assertEquals("jdbc:mysql://h:1/other", MysqlUrls.withDatabase("jdbc:mysql://h:1/", "other"));
        assertEquals("jdbc:mariadb://h:1/other?a=b", MysqlUrls.withDatabase("jdbc:mariadb://h:1?a=b", "other"));
    }

    @Test
    void keepsEveryHostOfAMultiHostUrl() {
        assertEquals("jdbc:mysql://h1:1,h2:2/other", MysqlUrls.withDatabase("jdbc:mysql://h1:1,h2:2/db", "other"));
    }

    @Test
    void recognisesOnlyMysqlAndMariadbUrlsWithAHost() {
        assertTrue(MysqlUrls.isMysqlUrl("jdbc:mysql://h:1/db"));
        assertTrue(MysqlUrls.isMysqlUrl("jdbc:mariadb://h"));
        assertFalse(MysqlUrls.isMysqlUrl("jdbc:mysql:///db"));
        assertFalse(MysqlUrls.isMysqlUrl("jdbc:postgresql://h:1/db"));
        assertFalse(MysqlUrls.isMysqlUrl("mysql://h:1/db"));
    }

    @Test
    void refusesToRewriteAnotherKindOfUrl() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MysqlUrls.withDatabase("jdbc:postgresql://h:1/db", "other"));

        assertEquals("must start with one of [jdbc:mysql://, jdbc:mariadb://]: url=jdbc:postgresql://h:1/db",
                e.getMessage());
    }
}
