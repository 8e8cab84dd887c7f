package dev.ekko.bench.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class IdBodiesTest {

    private static String body(IdBodies bodies, int route) {
        byte[] bytes = bodies.write(route);
        return new String(bytes, 0, bodies.length(), StandardCharsets.US_ASCII);
    }

    @Test
    void routesTheTwoPathsAndNothingElse() {
        assertEquals(IdBodies.ID, IdBodies.route(true, "/v1/id"));
        assertEquals(IdBodies.ID, IdBodies.route(true, "/v1/id?x=1"));
        assertEquals((IdBodies.IDS << 16) | 100, IdBodies.route(true, "/v1/ids?count=100"));
        assertEquals((IdBodies.IDS << 16) | 7, IdBodies.route(true, "/v1/ids?a=b&count=7&count=9"));
        assertEquals(IdBodies.BAD_REQUEST, IdBodies.route(true, "/v1/ids"));
        assertEquals(IdBodies.BAD_REQUEST, IdBodies.route(true, "/v1/ids?count=0"));
        assertEquals(IdBodies.BAD_REQUEST, IdBodies.route(true, "/v1/ids?count=1001"));
        assertEquals(IdBodies.BAD_REQUEST, IdBodies.route(true, "/v1/ids?count=1x"));
        assertEquals(IdBodies.BAD_REQUEST, IdBodies.route(true, "/v1/ids?count="));
        assertEquals(IdBodies.NOT_FOUND, IdBodies.route(false, "/v1/id"));
        assertEquals(IdBodies.NOT_FOUND, IdBodies.route(true, "/v1/idx"));
        assertEquals(IdBodies.NOT_FOUND, IdBodies.route(true, "/v1/i"));
        assertEquals(IdBodies.NOT_FOUND, IdBodies.route(true, "/"));
        assertEquals(IdBodies.NOT_FOUND, IdBodies.route(true, "/v1/ids/x?count=1"));
    }

    @Test
    void writesOneIdThenConsecutiveRanges() {
        IdBodies bodies = new IdBodies(new AtomicLong(9));
        assertEquals("{\"id\":\"9\"}", body(bodies, IdBodies.ID));
        assertEquals("{\"ids\":[\"10\",\"11\",\"12\"]}", body(bodies, IdBodies.route(true, "/v1/ids?count=3")));
        assertEquals("{\"id\":\"13\"}", body(bodies, IdBodies.ID));
    }

    @Test
    void writesAnyLong() {
        assertEquals("{\"id\":\"" + Long.MAX_VALUE + "\"}", body(new IdBodies(new AtomicLong(Long.MAX_VALUE)), IdBodies.ID));
        assertEquals("{\"id\":\"0\"}", body(new IdBodies(new AtomicLong()), IdBodies.ID));
        assertEquals("{\"id\":\"-5\"}", body(new IdBodies(new AtomicLong(-5)), IdBodies.ID));
    }

    @Test
    void fitsTheLargestBody() {
        IdBodies bodies = new IdBodies(new AtomicLong(Long.MIN_VALUE));
        String body = body(bodies, IdBodies.route(true, "/v1/ids?count=" + IdBodies.MAX_COUNT));
        assertEquals(IdBodies.MAX_COUNT, body.split(",").length);
        assertEquals("{\"ids\":[\"" + Long.MIN_VALUE + "\"", body.substring(0, body.indexOf(',')));
    }
}
