package dev.ekko.worker.mysql;

/**
 * What {@link MysqlAllocators#startNewGeneration} did: the generation it replaced and the one it wrote.
 *
 * @param previous the generation before, or {@code null} if {@code <table>_meta} had no row
 * @param current the new generation (32 hex digits)
 * @param marks how many worker-ID rows (of every namespace) hold a mark, each now a lower bound only
 * @param where the database and table, password masked: {@code mysql jdbc:mysql://db:3306/ids table ekko_worker_ids}
 */
public record NewGeneration(String previous, String current, long marks, String where) {

    /** {@return one line for a person: what changed and what it means} */
    @Override
    public String toString() {
        return "started generation " + current + " at " + where + " (was " + (previous == null ? "none" : previous) + "): the marks of "
                + marks + " worker ID" + (marks == 1 ? "" : "s") + " are lower bounds from now on, so each one's next holder waits one"
                + " lease TTL plus the tolerated skew once before issuing; live holders carry on, and write marks of the new generation"
                + " at their next renewal";
    }
}
