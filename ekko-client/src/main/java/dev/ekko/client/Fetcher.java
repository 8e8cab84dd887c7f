package dev.ekko.client;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;

/** Fetches batches over HTTP, the server that answered last first, the others in turn when it fails. */
final class Fetcher {

    private final HttpClient http;
    private final List<URI> servers;
    private final String authorization;
    private final Duration timeout;
    /** The server asked first: the one that answered last. */
    private volatile int preferred;

    Fetcher(HttpClient http, List<URI> servers, String token, Duration timeout) {
        this.http = http;
        this.servers = servers;
        this.authorization = token == null ? null : "Bearer " + token;
        this.timeout = timeout;
    }

    /** {@return how many servers are asked} */
    int servers() {
        return servers.size();
    }

    /**
     * Fetches {@code count} IDs from {@code path} ({@code /v1/ids}, {@code /v1/segment/NAME/ids}).
     *
     * @throws EkkoClientException naming each server and its answer, when none gave IDs; at once for a 4xx answer (the
     *     request itself is wrong: an unknown name, a batch above the server's bound, a wrong token), which every server
     *     would give
     */
    long[] fetch(String path, int count) throws InterruptedException {
        StringBuilder failures = new StringBuilder();
        Exception last = null;
        int first = preferred;
        for (int k = 0; k < servers.size(); k++) {
            int s = (first + k) % servers.size();
            URI base = servers.get(s);
            HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(base + path + "?count=" + count + "&format=number"))
                    .timeout(timeout).GET();
            if (authorization != null) {
                rb.header("Authorization", authorization);
            }
            try {
                HttpResponse<String> r = http.send(rb.build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    long[] ids = parse(r.body(), count);
                    preferred = s;
                    return ids;
                }
                String what = base + " answered " + r.statusCode() + " " + r.body();
                if (r.statusCode() >= 400 && r.statusCode() < 500) {
                    throw new EkkoClientException(what, null, true);
                }
                failures.append(failures.length() == 0 ? "" : "; ").append(what);
            } catch (java.net.http.HttpTimeoutException e) {
                last = e;
                failures.append(failures.length() == 0 ? "" : "; ").append(base).append(": no answer within ").append(timeout.toMillis())
                        .append(" ms");
            } catch (IOException | IllegalArgumentException e) {
                last = e;
                failures.append(failures.length() == 0 ? "" : "; ").append(base).append(": ").append(e.getClass().getSimpleName())
                        .append(e.getMessage() == null ? "" : " " + e.getMessage());
            }
        }
        throw new EkkoClientException("no server gave " + count + " IDs from " + path + ": " + failures, last);
    }

    /** Parses {@code {"ids":[1,2,...]}} (format=number: unsigned decimals). */
    static long[] parse(String body, int count) {
        int open = body.indexOf('[');
        int close = body.lastIndexOf(']');
        if (open < 0 || close < open) {
            throw new IllegalArgumentException("not an ids answer: " + body);
        }
        long[] ids = new long[count];
        int n = 0;
        int at = open + 1;
        while (at < close) {
            int comma = body.indexOf(',', at);
            int end = comma < 0 || comma > close ? close : comma;
            if (n == count) {
                throw new IllegalArgumentException("more than the " + count + " IDs asked for: " + body);
            }
            ids[n++] = Long.parseUnsignedLong(body.substring(at, end).trim());
            at = end + 1;
        }
        if (n != count) {
            throw new IllegalArgumentException(n + " IDs, not the " + count + " asked for");
        }
        return ids;
    }
}
