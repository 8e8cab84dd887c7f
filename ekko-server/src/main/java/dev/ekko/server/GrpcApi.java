package dev.ekko.server;

import dev.ekko.DecodedId;
import dev.ekko.server.grpc.DecodeReply;
import dev.ekko.server.grpc.DecodeRequest;
import dev.ekko.server.grpc.EkkoGrpc;
import dev.ekko.server.grpc.NextBatchReply;
import dev.ekko.server.grpc.NextBatchRequest;
import dev.ekko.server.grpc.NextReply;
import dev.ekko.server.grpc.NextRequest;
import dev.ekko.server.grpc.NextSegmentReply;
import dev.ekko.server.grpc.NextSegmentRequest;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;

/**
 * The gRPC service of {@code ekko/v1/ekko.proto}: the same {@link IdService} as HTTP, its failures as gRPC statuses with
 * the same messages.
 */
final class GrpcApi extends EkkoGrpc.EkkoImplBase {

    private static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final IdService ids;
    private final Metrics metrics;

    GrpcApi(IdService ids, Metrics metrics) {
        this.ids = ids;
        this.metrics = metrics;
    }

    @Override
    public void next(NextRequest request, StreamObserver<NextReply> out) {
        answer(out, Metrics.Route.ID, () -> NextReply.newBuilder().setId(ids.next()).build());
    }

    @Override
    public void nextBatch(NextBatchRequest request, StreamObserver<NextBatchReply> out) {
        answer(out, Metrics.Route.IDS, () -> {
            int n = ids.count("count", request.getCount() == 0 ? null : Integer.toUnsignedString(request.getCount()), 0);
            NextBatchReply.Builder b = NextBatchReply.newBuilder();
            for (long id : ids.next(n)) {
                b.addIds(id);
            }
            return b.build();
        });
    }

    @Override
    public void nextSegment(NextSegmentRequest request, StreamObserver<NextSegmentReply> out) {
        answer(out, Metrics.Route.SEGMENT, () -> {
            int n = ids.count("count", request.hasCount() ? Integer.toUnsignedString(request.getCount()) : null, 1);
            NextSegmentReply.Builder b = NextSegmentReply.newBuilder();
            for (long id : ids.segment("name", request.getName().isEmpty() ? null : request.getName(), n)) {
                b.addIds(id);
            }
            return b.build();
        });
    }

    @Override
    public void decode(DecodeRequest request, StreamObserver<DecodeReply> out) {
        answer(out, Metrics.Route.DECODE, () -> {
            DecodedId d = ids.decode(request.getId());
            return DecodeReply.newBuilder().setId(d.id()).setTimestampMillis(d.epochMillis()).setTimestamp(d.timestamp().toString())
                    .setIdc(d.idc()).setWorker(d.worker()).setProduct(d.product()).setSequence(d.sequence()).build();
        });
    }

    /** Sends the reply {@code make} builds, or the status its failure maps to; counts either. */
    private <T> void answer(StreamObserver<T> out, Metrics.Route route, java.util.function.Supplier<T> make) {
        T reply;
        try {
            reply = make.get();
        } catch (RuntimeException e) {
            fail(out, route, e);
            return;
        }
        ok(out, route, reply);
    }

    private <T> void ok(StreamObserver<T> out, Metrics.Route route, T reply) {
        metrics.count(Metrics.Protocol.GRPC, route, 200);
        out.onNext(reply);
        out.onCompleted();
    }

    private void fail(StreamObserver<?> out, Metrics.Route route, RuntimeException e) {
        ApiError a = ApiError.of(e);
        metrics.count(Metrics.Protocol.GRPC, route, a.httpStatus);
        out.onError(Status.fromCode(a.grpcCode).withDescription(a.getMessage()).asRuntimeException());
    }

    /**
     * The service with its requests checked before they are parsed for the method: a message that is not valid protobuf
     * for its type is answered INVALID_ARGUMENT, naming it (grpc-java alone answers UNKNOWN, "Application error processing
     * RPC", and logs a stack trace). The checked bytes are what the method then parses.
     */
    static io.grpc.ServerServiceDefinition tolerant(io.grpc.ServerServiceDefinition service, Metrics metrics) {
        java.util.Map<String, io.grpc.MethodDescriptor.Marshaller<?>> strict = new java.util.HashMap<>();
        for (io.grpc.ServerMethodDefinition<?, ?> m : service.getMethods()) {
            strict.put(m.getMethodDescriptor().getFullMethodName(), m.getMethodDescriptor().getRequestMarshaller());
        }
        return ServerInterceptors.intercept(ServerInterceptors.useInputStreamMessages(service), new ServerInterceptor() {
            @Override
            public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
                io.grpc.MethodDescriptor.Marshaller<?> parser = strict.get(call.getMethodDescriptor().getFullMethodName());
                return new io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener<Q>(next.startCall(call, headers)) {
                    private boolean refused;

                    @Override
                    public void onMessage(Q message) {
                        byte[] bytes;
                        try {
                            bytes = ((java.io.InputStream) message).readAllBytes();
                            parser.parse(new java.io.ByteArrayInputStream(bytes));
                        } catch (java.io.IOException | RuntimeException e) {
                            refused = true;
                            ApiError a = malformed();
                            metrics.count(Metrics.Protocol.GRPC, Metrics.Route.UNKNOWN, a.httpStatus);
                            call.close(Status.fromCode(a.grpcCode).withDescription(a.getMessage()), new Metadata());
                            return;
                        }
                        @SuppressWarnings("unchecked")
                        Q again = (Q) new java.io.ByteArrayInputStream(bytes);
                        super.onMessage(again);
                    }

                    @Override
                    public void onHalfClose() {
                        if (!refused) {
                            super.onHalfClose();
                        }
                    }
                };
            }
        });
    }

    private static ApiError malformed() {
        return new ApiError(400, Status.Code.INVALID_ARGUMENT, "the request message is not valid protobuf for its method (ekko/v1/ekko.proto)",
                "message", null, "a message of the method's request type");
    }

    /** Refuses every call without the bearer token, when the server has one: UNAUTHENTICATED, before the method runs. */
    static ServerInterceptor tokenCheck(ServerSettings settings, Metrics metrics) {
        return new ServerInterceptor() {
            @Override
            public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
                if (!settings.acceptsAuthorization(headers.get(AUTHORIZATION))) {
                    metrics.count(Metrics.Protocol.GRPC, Metrics.Route.UNKNOWN, 401);
                    call.close(Status.UNAUTHENTICATED.withDescription(ApiError.unauthenticated().getMessage()), new Metadata());
                    return new ServerCall.Listener<Q>() {
                    };
                }
                return next.startCall(call, headers);
            }
        };
    }
}
