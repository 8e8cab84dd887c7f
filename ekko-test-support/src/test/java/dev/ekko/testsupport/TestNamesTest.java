package dev.ekko.testsupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TestNamesTest {

    static final class Nested$With_Odd$Characters {
    }

    static final class AVeryLongTestClassNameThatWouldNotFitIntoAMysqlIdentifierOnItsOwnIT {
    }

    @Test
    void redisKeyPrefixIsClassNameAndTokenBetweenColons() {
        assertEquals("ekko-test:TestNamesTest:0badcafe:", TestNames.redisKeyPrefix(TestNamesTest.class, "0badcafe"));
    }

    @Test
    void etcdKeyPrefixIsClassNameAndTokenBetweenSlashes() {
        assertEquals("/ekko-test/TestNamesTest/0badcafe/", TestNames.etcdKeyPrefix(TestNamesTest.class, "0badcafe"));
    }

    @Test
    void nestedClassKeepsItsOuterClassInTheName() {
        assertEquals("ekko-test:TestNamesTest$Nested$With_Odd$Characters:0badcafe:",
                TestNames.redisKeyPrefix(Nested$With_Odd$Characters.class, "0badcafe"));
    }

    @Test
    void databaseNameIsLowerCaseWithOnlyLettersDigitsAndUnderscores() {
        assertEquals("ekko_testnamestest_nested_with_odd_characters_0badcafe",
                TestNames.databaseName(Nested$With_Odd$Characters.class, "0badcafe"));
    }

    @Test
    void databaseNameOfALongClassIsCutToFitMysqlsLimit() {
        String name = TestNames.databaseName(
                AVeryLongTestClassNameThatWouldNotFitIntoAMysqlIdentifierOnItsOwnIT.class, "0badcafe");

        assertEquals("ekko_testnamestest_averylongtestclassnamethat_0badcafe", name);
        assertTrue(name.length() <= 64, () -> "must be <= 64 characters: length=" + name.length());
    }

    @Test
    void randomTokenIsEightHexDigits() {
        for (int i = 0; i < 1000; i++) {
            String token = TestNames.randomToken();
            assertTrue(token.matches("[0-9a-f]{8}"), token);
        }
    }
}
