package dev.ekko.spring.boot;

import dev.ekko.GeneratorStatus;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A generator's status as health details, shared by the health indicators of Spring Boot 4 and 3 (a class of its own: either
 * indicator's class fails to load on the other line of Spring Boot).
 */
final class HealthDetails {

    private HealthDetails() {
    }

    /** {@return the status as health details: plain strings and numbers, absent values left out} */
    static Map<String, Object> of(GeneratorStatus status) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("state", status.state().name());
        status.reason().ifPresent(r -> d.put("reason", r));
        d.put("idc", status.idc());
        d.put("workerId", status.workerId());
        d.put("allocator", status.allocator());
        status.leaseExpiresAt().ifPresent(t -> d.put("leaseExpiresAt", t.toString()));
        status.fenceDeadline().ifPresent(t -> d.put("fenceDeadline", t.toString()));
        status.issueLimit().ifPresent(t -> d.put("issueLimit", t.toString()));
        d.put("lead", status.lead().toString());
        status.lastRenewal().ifPresent(r -> {
            Map<String, Object> renewal = new LinkedHashMap<>();
            renewal.put("at", r.at().toString());
            renewal.put("took", r.took().toString());
            renewal.put("succeeded", r.succeeded());
            r.failure().ifPresent(f -> renewal.put("failure", f));
            d.put("lastRenewal", renewal);
        });
        status.clockSkew().ifPresent(s -> d.put("clockSkew", s.toString()));
        return d;
    }
}
