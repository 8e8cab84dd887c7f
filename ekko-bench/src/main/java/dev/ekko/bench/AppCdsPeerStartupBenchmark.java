package dev.ekko.bench;

/** {@link PeerStartupBenchmark} with the same archive and JVM flags as {@link AppCdsStartupBenchmark}. */
public class AppCdsPeerStartupBenchmark extends PeerStartupBenchmark {
}
