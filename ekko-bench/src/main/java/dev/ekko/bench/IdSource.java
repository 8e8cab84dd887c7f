package dev.ekko.bench;

/** A started generator under test: Ekko or a peer, reduced to what a caller of {@code next()} sees. */
public interface IdSource extends AutoCloseable {

    /** {@return the next ID} */
    long next();

    /** Releases what the generator holds (Ekko's worker ID and state file); peers hold nothing. */
    @Override
    void close();
}
