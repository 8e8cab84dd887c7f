package dev.ekko.worker.etcd;

import dev.ekko.slf4j.SystemLoggerProvider;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.SharedClients;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.ClientBuilder;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.MethodDescriptor;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The {@link java.util.ServiceLoader} entry for the {@code etcd} worker-ID allocator: select it with
 * {@code ekko.worker.allocator=etcd} ({@code EKKO_WORKER_ALLOCATOR=etcd}) and point it at the cluster with
 * {@code ekko.etcd.endpoints} ({@code EKKO_ETCD_ENDPOINTS}).
 *
 * <p>Keys, all optional but the endpoints:
 * <ul>
 *   <li>{@code ekko.etcd.endpoints}: {@code http://host:port} or {@code https://host:port}, comma-separated, one per member;</li>
 *   <li>{@code ekko.etcd.user}, {@code ekko.etcd.password}: credentials when etcd has authentication on (both or neither);</li>
 *   <li>{@code ekko.etcd.namespace}: the start of every key, so fleets can share a cluster (default {@code ekko});</li>
 *   <li>{@code ekko.etcd.timeout}: connect timeout and deadline of each request (default {@code 2s}, 100ms..1m);</li>
 *   <li>{@code ekko.etcd.tls.ca}: a PEM file of the CA certificates for {@code https} members (default: the JVM's trust store).</li>
 * </ul>
 */
public final class EtcdAllocatorProvider implements WorkerAllocatorProvider {

    /**
     * The jetcd clients of this JVM, one per distinct connection settings ({@link ClientKey}), shared by every allocator
     * created with those settings and closed with the last of them: a process (or a load test) with thousands of allocators
     * keeps one gRPC connection per cluster instead of one per allocator. JVM-wide on purpose: allocators are created one by
     * one through {@link java.util.ServiceLoader}, by generators that know nothing of each other.
     */
    static final SharedClients<ClientKey, Client> CLIENTS = new SharedClients<>("jetcd client");

    /**
     * Every setting that shapes a client: the members, the credentials, the CA file and the timeout (connect timeout and
     * request deadline). Not the namespace: allocators of several namespaces share a client. Never printed (it holds the
     * password).
     */
    record ClientKey(List<URI> endpoints, String user, String password, Path tlsCa, Duration timeout) {
        static ClientKey of(EtcdSettings s) {
            return new ClientKey(s.endpoints(), s.user(), s.password(), s.tlsCa(), s.timeout());
        }

        @Override
        public String toString() {
            return "ClientKey{endpoints=" + endpoints + ", user=" + user + "}";
        }
    }

    /** Creates the provider; {@link java.util.ServiceLoader} calls it. */
    public EtcdAllocatorProvider() {
    }

    /** {@return {@code etcd}} */
    @Override
    public String name() {
        return "etcd";
    }

    /** {@return {@code dev.ekko:ekko-worker-etcd}} */
    @Override
    public String artifact() {
        return "dev.ekko:ekko-worker-etcd";
    }

    /** {@return the {@code ekko.etcd.*} keys above} */
    @Override
    public Set<String> configKeys() {
        return EtcdSettings.KEYS;
    }

    /**
     * Parses and checks the settings and takes a share of the client for them ({@link #CLIENTS}), building it if no open
     * allocator shares it; it connects on the first call, not here.
     *
     * @param context the IDC, layout limits, lease TTL and {@code ekko.etcd.*} settings
     * @return a new allocator
     * @throws IllegalArgumentException naming the key and its value (never a password) if a setting is missing or malformed
     */
    @Override
    public WorkerAllocator create(AllocatorContext context) {
        EtcdSettings settings = EtcdSettings.from(context);
        SystemLoggerProvider.installIfNoneFound(); // before jetcd logs for the first time
        SharedClients.Handle<Client> handle = CLIENTS.open(ClientKey.of(settings), () -> newClient(settings));
        return new EtcdWorkerAllocator(context, settings, handle.client(), handle);
    }

    /**
     * A reference to this JVM's client for these connection settings, built if none is open; the segment store shares it.
     *
     * @param settings the parsed settings
     * @return the handle; close it to give the reference up
     */
    static SharedClients.Handle<Client> client(EtcdSettings settings) {
        SystemLoggerProvider.installIfNoneFound();
        return CLIENTS.open(ClientKey.of(settings), () -> newClient(settings));
    }

    /** Builds a client for {@code settings}; called under {@link #CLIENTS}'s lock, so it only builds: it connects later. */
    private static Client newClient(EtcdSettings settings) {
        long deadlineMillis = settings.timeout().toMillis();
        // Every unary call gets a deadline: without one a member that accepts the connection but never answers holds a call
        // forever (the connect timeout does not help once TCP is up). So does each keep-alive stream, which the allocator opens
        // for one request and reply per renewal (jetcd's keepAliveOnce): one that timed out would otherwise stay open until
        // the member answers. The watch streams have none.
        ClientInterceptor deadline = new ClientInterceptor() {
            @Override
            public <Q, S> ClientCall<Q, S> interceptCall(MethodDescriptor<Q, S> method, CallOptions options, Channel next) {
                boolean bounded = method.getType() == MethodDescriptor.MethodType.UNARY
                        || method.getFullMethodName().endsWith("/LeaseKeepAlive");
                CallOptions o = bounded ? options.withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS) : options;
                return next.newCall(method, o);
            }
        };
        ClientBuilder b = Client.builder().endpoints(settings.endpoints().toArray(new java.net.URI[0])).waitForReady(false)
                .connectTimeout(settings.timeout()).interceptor(deadline).retryMaxAttempts(0);
        if (settings.user() != null) {
            b.user(ByteSequence.from(settings.user(), StandardCharsets.UTF_8))
                    .password(ByteSequence.from(settings.password(), StandardCharsets.UTF_8));
        }
        if (settings.tls()) {
            java.nio.file.Path ca = settings.tlsCa();
            try {
                b.sslContext(ssl -> {
                    if (ca != null) {
                        ssl.trustManager(ca.toFile());
                    }
                });
            } catch (javax.net.ssl.SSLException | RuntimeException e) {
                throw new IllegalArgumentException("cannot set up TLS for " + settings.where() + " with " + EtcdSettings.TLS_CA_KEY
                        + "=" + ca + ": " + e.getMessage());
            }
        }
        return b.build();
    }

    @Override
    public String toString() {
        return "EtcdAllocatorProvider{etcd}";
    }
}
