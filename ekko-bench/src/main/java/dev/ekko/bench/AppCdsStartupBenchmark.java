package dev.ekko.bench;

/**
 * {@link StartupBenchmark} run by {@link BenchRunner} in forks that map an application class-data archive ({@link AppCds}):
 * a JVM setting, named wherever its figures are shown. Only {@code host-local} and {@code manual}.
 */
public class AppCdsStartupBenchmark extends StartupBenchmark {
}
