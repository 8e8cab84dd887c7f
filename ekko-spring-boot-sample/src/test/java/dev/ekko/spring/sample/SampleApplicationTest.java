package dev.ekko.spring.sample;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ekko.DecodedId;
import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.core.env.Environment;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/** The sample on a real port, called with the JDK's HTTP client as any other service would call it. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class SampleApplicationTest {

    @TempDir
    static Path dir;

    private final HttpClient http = HttpClient.newHttpClient();

    @Autowired
    Environment environment;

    @Autowired
    IdGenerator generator;

    @Autowired
    @Qualifier("ordersIdGenerator")
    IdGenerator orders;

    /** This test's own state and host lock directories, so that its worker ID never meets another process's. */
    @DynamicPropertySource
    static void directories(DynamicPropertyRegistry registry) {
        registry.add("ekko.state.dir", () -> dir.resolve("state").toString());
        registry.add("ekko.host.lock.dir", () -> dir.resolve("locks").toString());
    }

    private HttpResponse<String> get(String path) throws Exception {
        URI uri = URI.create("http://localhost:" + environment.getProperty("local.server.port") + path);
        return http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void getIdReturnsAJsonStringThatDecodesWithTheConfiguredWorkerAndIdc() throws Exception {
        HttpResponse<String> response = get("/id");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/json"));
        assertThat(response.body()).matches("\"[0-9]+\"");
        long id = Layout.parse(response.body().substring(1, response.body().length() - 1));
        DecodedId decoded = generator.layout().decode(id);
        assertThat(decoded.worker()).isEqualTo(42);
        assertThat(decoded.idc()).isEqualTo(1);
        assertThat(decoded.product()).isZero();
        long next = Layout.parse(get("/id").body().replace("\"", ""));
        assertThat(Layout.compare(next, id)).isPositive();
    }

    @Test
    void theOrdersBeanIssuesProductLineOne() {
        assertThat(generator.layout().decode(orders.next()).product()).isEqualTo(1);
    }

    @Test
    void healthShowsTheEkkoComponentUp() throws Exception {
        HttpResponse<String> response = get("/actuator/health");
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode health = new ObjectMapper().readTree(response.body());
        assertThat(health.path("status").asString()).isEqualTo("UP");
        JsonNode ekko = health.path("components").path("ekko");
        assertThat(ekko.path("status").asString()).as(response.body()).isEqualTo("UP");
        assertThat(ekko.path("details").path("state").asString()).isEqualTo("LIVE");
        assertThat(ekko.path("details").path("workerId").asInt()).isEqualTo(42);
        assertThat(ekko.path("details").path("idc").asInt()).isEqualTo(1);
        assertThat(ekko.path("details").path("allocator").asString()).isEqualTo("manual");
    }

    @Test
    void metricsShowTheGeneratorLive() throws Exception {
        HttpResponse<String> response = get("/actuator/metrics/ekko.generator.live");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        JsonNode value = new ObjectMapper().readTree(response.body()).path("measurements").path(0).path("value");
        assertThat(value.asDouble()).as(response.body()).isEqualTo(1.0);
    }
}
