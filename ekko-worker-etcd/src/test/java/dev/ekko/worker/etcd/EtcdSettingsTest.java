package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ekko.spi.AllocatorContext;
import org.junit.jupiter.api.Test;

class EtcdSettingsTest {

    private static AllocatorContext.Builder context(String endpoints) {
        return AllocatorContext.builder().idc(1).setting("ekko.etcd.endpoints", endpoints);
    }

    private static String refusal(AllocatorContext.Builder b) {
        return assertThrows(IllegalArgumentException.class, () -> EtcdSettings.from(b.build())).getMessage();
    }

    @Test
    void defaultsAndSeveralMembers() {
        EtcdSettings s = EtcdSettings.from(context(" http://10.0.0.1:2379, http://10.0.0.2:2379/ ").build());
        assertEquals("etcd http://10.0.0.1:2379,http://10.0.0.2:2379 namespace ekko", s.where());
        assertEquals("EtcdSettings{endpoints=[http://10.0.0.1:2379, http://10.0.0.2:2379], user=(none), password=(none),"
                + " namespace=ekko, timeout=2000ms}", s.toString());
    }

    @Test
    void thePasswordIsNeverShown() {
        EtcdSettings s = EtcdSettings.from(context("http://db:2379").setting("ekko.etcd.user", "ids")
                .setting("ekko.etcd.password", "s3cret-pw").build());
        assertFalse(s.toString().contains("s3cret-pw") || s.where().contains("s3cret-pw"), s.toString());
        String m = refusal(context("http://ids:s3cret-pw@db:2379"));
        assertEquals("must not carry credentials: set ekko.etcd.user and ekko.etcd.password instead: ekko.etcd.endpoints="
                + "http://***@db:2379", m);
    }

    @Test
    void badValuesNameKeyValueAndWhatIsAllowed() {
        assertEquals("must be http://host:port or https://host:port, comma-separated (one per member) (scheme http or https):"
                + " ekko.etcd.endpoints=db:2379", refusal(context("db:2379")));
        assertEquals("must name a host and a port (etcd's client port is usually 2379), as in http://host:port or https://host:port,"
                + " comma-separated (one per member): ekko.etcd.endpoints=http://db", refusal(context("http://db")));
        assertEquals("must all use one scheme, http or https: ekko.etcd.endpoints=http://a:2379,https://b:2379",
                refusal(context("http://a:2379,https://b:2379")));
        assertEquals("must be http://host:port or https://host:port, comma-separated (one per member), without empty entries:"
                + " ekko.etcd.endpoints=http://a:2379,", refusal(context("http://a:2379,")));
        assertEquals("must be set together: ekko.etcd.user and ekko.etcd.password (ekko.etcd.password is missing)",
                refusal(context("http://a:2379").setting("ekko.etcd.user", "ids")));
        assertEquals("must be >= 100ms && <= 1m: ekko.etcd.timeout=50ms", refusal(context("http://a:2379").setting("ekko.etcd.timeout",
                "50ms")));
        assertEquals("must be 1 to 100 printable ASCII characters without blanks: ekko.etcd.namespace=\"a b\"",
                refusal(context("http://a:2379").setting("ekko.etcd.namespace", "a b")));
        assertEquals("is for https:// endpoints only: ekko.etcd.tls.ca=/etc/ca.pem with ekko.etcd.endpoints=http://a:2379",
                refusal(context("http://a:2379").setting("ekko.etcd.tls.ca", "/etc/ca.pem")));
    }
}
