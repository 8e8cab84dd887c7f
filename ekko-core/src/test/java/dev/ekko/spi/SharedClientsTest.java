package dev.ekko.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class SharedClientsTest {

    static final class Client implements AutoCloseable {
        final AtomicInteger closes = new AtomicInteger();

        @Override
        public void close() {
            closes.incrementAndGet();
        }
    }

    @Test
    void handlesOnOneKeyShareOneClientClosedByTheLastHandleOnly() {
        SharedClients<String, Client> shared = new SharedClients<>("test client");
        AtomicInteger opened = new AtomicInteger();
        SharedClients.Handle<Client> a = shared.open("k", () -> { opened.incrementAndGet(); return new Client(); });
        SharedClients.Handle<Client> b = shared.open("k", () -> { opened.incrementAndGet(); return new Client(); });
        assertEquals(1, opened.get());
        assertSame(a.client(), b.client());
        Client c = a.client();
        a.close();
        a.close(); // twice: still one reference given up
        assertEquals(0, c.closes.get(), "closed while a handle was open");
        assertEquals(1, shared.size());
        b.close();
        assertEquals(1, c.closes.get());
        assertEquals(0, shared.size());
        IllegalStateException e = assertThrows(IllegalStateException.class, a::client);
        assertTrue(e.getMessage().contains("test client"), e.getMessage());
        // A new open after the last close creates a new client.
        SharedClients.Handle<Client> d = shared.open("k", Client::new);
        assertNotSame(c, d.client());
        d.close();
    }

    @Test
    void differentKeysGetDifferentClients() {
        SharedClients<String, Client> shared = new SharedClients<>("test client");
        SharedClients.Handle<Client> a = shared.open("a", Client::new);
        SharedClients.Handle<Client> b = shared.open("b", Client::new);
        assertNotSame(a.client(), b.client());
        assertEquals(2, shared.size());
        a.close();
        assertEquals(0, b.client().closes.get());
        b.close();
    }

    @Test
    void anOpenerThatFailsRegistersNothing() {
        SharedClients<String, Client> shared = new SharedClients<>("test client");
        assertThrows(IllegalStateException.class, () -> shared.open("k", () -> { throw new IllegalStateException("down"); }));
        assertEquals(0, shared.size());
        SharedClients.Handle<Client> a = shared.open("k", Client::new);
        assertFalse(a.client() == null);
        a.close();
    }
}
