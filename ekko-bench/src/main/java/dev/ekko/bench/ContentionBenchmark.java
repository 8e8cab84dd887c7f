package dev.ekko.bench;

/**
 * {@link GetBenchmark} at 2 threads for Ekko's bounded lead with one worker ID and with 2 stripes ({@link #GENERATORS}), run by
 * {@link BenchRunner} in {@link Profile#contentionForks} forks: the score's error is then taken across forks, which is where
 * two threads contending on one word show (some forks fast, some slow), not within one fork's few iterations.
 */
public class ContentionBenchmark extends GetBenchmark {

    /** The settings measured: bounded lead on one worker ID, whose two threads CAS one word, and on 2 stripes. */
    static final String[] GENERATORS = {Contender.EKKO_BOUNDED_LEAD.name(), Contender.EKKO_BOUNDED_LEAD_STRIPED_2.name()};
}
