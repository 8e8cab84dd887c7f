package dev.ekko.bench.report;

import dev.ekko.bench.Contender;
import dev.ekko.bench.EkkoMode;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.CategorySeries;
import org.knowm.xchart.CategorySeries.CategorySeriesRenderStyle;
import org.knowm.xchart.style.CategoryStyler;
import org.knowm.xchart.style.Styler;

/**
 * The chart: four panels in one PNG. Get throughput of every generator against its own ceiling; Get latency
 * percentiles with 2 threads; MultiGet by batch size; start-up. Log scales: the figures span six orders of
 * magnitude. A panel whose suite was not run is left out.
 */
final class Charts {

    private static final int WIDTH = 900;
    private static final int HEIGHT = 560;

    private Charts() {
    }

    static void write(Report report, Path png) throws IOException {
        System.setProperty("java.awt.headless", "true");
        List<CategoryChart> panels = new ArrayList<>();
        get(report).ifPresent(panels::add);
        latency(report).ifPresent(panels::add);
        multiGet(report).ifPresent(panels::add);
        startup(report).ifPresent(panels::add);
        if (panels.isEmpty()) {
            panels.add(chart("No results in this file", "", ""));
        }
        int cols = panels.size() == 1 ? 1 : 2;
        int rows = (panels.size() + cols - 1) / cols;
        BitmapEncoder.saveBitmap(panels, rows, cols, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    private static Optional<CategoryChart> get(Report report) {
        List<String> names = new ArrayList<>();
        List<Double> one = new ArrayList<>();
        List<Double> two = new ArrayList<>();
        List<Double> ceiling = new ArrayList<>();
        for (Contender c : Contender.values()) {
            Optional<Result> r1 = report.get("thrpt", 1, c);
            Optional<Result> r2 = report.get("thrpt", 2, c);
            if (r1.isEmpty() && r2.isEmpty()) {
                continue;
            }
            names.add(c.label());
            one.add(r1.map(Result::score).orElse(null));
            two.add(r2.map(Result::score).orElse(null));
            ceiling.add((double) c.idsPerSecond());
        }
        if (names.isEmpty()) {
            return Optional.empty();
        }
        CategoryChart chart = chart("Get: IDs/s, " + report.env("profile", "?") + " profile, " + report.env("started", "")
                + ", " + report.env("cores", "?") + " cores", "", "IDs per second (log)");
        chart.getStyler().setYAxisLogarithmic(true);
        chart.getStyler().setXAxisLabelRotation(15);
        add(chart, "1 thread", names, one);
        add(chart, "2 threads", names, two);
        add(chart, "own real-time ceiling", names, ceiling);
        return Optional.of(chart);
    }

    private static Optional<CategoryChart> latency(Report report) {
        String[] percentiles = {"50.0", "99.0", "99.9", "99.99"};
        List<String> names = new ArrayList<>();
        List<List<Double>> series = new ArrayList<>();
        for (int i = 0; i < percentiles.length; i++) {
            series.add(new ArrayList<>());
        }
        for (Contender c : Contender.values()) {
            Optional<Result> r = report.get("sample", 2, c);
            if (r.isEmpty()) {
                continue;
            }
            names.add(c.label());
            for (int i = 0; i < percentiles.length; i++) {
                series.get(i).add(r.get().percentiles().get(percentiles[i]));
            }
        }
        if (names.isEmpty()) {
            return Optional.empty();
        }
        CategoryChart chart = chart("Get latency, 2 threads (JDK " + jdk(report) + ")", "", "ns per call (log)");
        chart.getStyler().setYAxisLogarithmic(true);
        chart.getStyler().setXAxisLabelRotation(15);
        for (int i = 0; i < percentiles.length; i++) {
            add(chart, "p" + percentiles[i].replaceFirst("\\.0$", ""), names, series.get(i));
        }
        return Optional.of(chart);
    }

    private static Optional<CategoryChart> multiGet(Report report) {
        List<String> batches = new ArrayList<>();
        for (Result r : report.results()) {
            if (r.benchmark().equals(Report.MULTI_GET) && !batches.contains(r.param("batch"))) {
                batches.add(r.param("batch"));
            }
        }
        if (batches.isEmpty()) {
            return Optional.empty();
        }
        batches.sort((a, b) -> Integer.compare(Integer.parseInt(a), Integer.parseInt(b)));
        CategoryChart chart = chart("MultiGet into the caller's array, 1 thread", "batch size", "IDs per second (log)");
        chart.getStyler().setYAxisLogarithmic(true);
        for (EkkoMode mode : EkkoMode.values()) {
            List<Double> ids = new ArrayList<>();
            for (String b : batches) {
                int batch = Integer.parseInt(b);
                ids.add(report.multiGet(mode, batch).map(r -> r.score() * batch).orElse(null));
            }
            add(chart, Report.modeLabel(mode), batches, ids);
        }
        add(chart, "real-time ceiling", batches, Collections.nCopies(batches.size(), (double) Contender.EKKO_REAL_TIME.idsPerSecond()))
                .ifPresent(c -> c.setChartCategorySeriesRenderStyle(CategorySeriesRenderStyle.Line));
        return Optional.of(chart);
    }

    private static Optional<CategoryChart> startup(Report report) {
        List<String> names = new ArrayList<>();
        List<Double> cold = new ArrayList<>();
        List<Double> warm = new ArrayList<>();
        String unit = "ms";
        for (Result r : report.results()) {
            if (!r.benchmark().equals(Report.STARTUP) && !r.benchmark().equals(Report.PEER_STARTUP)
                    && !r.benchmark().equals(Report.FIRST_START)) {
                continue;
            }
            List<Double> c = new ArrayList<>();
            List<Double> w = new ArrayList<>();
            Report.shots(r, c, w);
            names.add(Report.startupCategory(r));
            cold.add(c.isEmpty() ? null : Report.median(Report.sorted(c)));
            warm.add(w.isEmpty() ? null : Report.median(Report.sorted(w)));
            unit = r.unit().replace("/op", "");
        }
        if (names.isEmpty()) {
            return Optional.empty();
        }
        CategoryChart chart = chart("Start-up: build() to first ID, median", "allocator", unit + " (log)");
        chart.getStyler().setYAxisLogarithmic(true);
        add(chart, "cold (first in a JVM)", names, cold);
        add(chart, "warm (later in the same JVM)", names, warm);
        return Optional.of(chart);
    }

    /** Adds a series only if every category has a positive value: a log axis cannot show a missing or zero bar. */
    private static Optional<CategorySeries> add(CategoryChart chart, String name, List<String> categories, List<Double> values) {
        for (Double v : values) {
            if (v == null || !(v > 0)) {
                return Optional.empty();
            }
        }
        CategorySeries series = chart.addSeries(name, categories, values);
        // Bars start at the axis minimum, which XChart puts at zero unless told: a log axis needs it positive.
        double smallest = Collections.min(values);
        double floor = Math.pow(10, Math.floor(Math.log10(smallest)));
        if (smallest < 3 * floor) {
            floor /= 10; // a bar that starts at the axis is not seen
        }
        Double min = chart.getStyler().getYAxisMin();
        chart.getStyler().setYAxisMin(min == null ? floor : Math.min(min, floor));
        return Optional.of(series);
    }

    private static String jdk(Report report) {
        return report.results().isEmpty() ? "?" : report.results().get(0).settings().vm().replaceFirst(".* ", "");
    }

    private static CategoryChart chart(String title, String xTitle, String yTitle) {
        CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle(xTitle)
                .yAxisTitle(yTitle).build();
        CategoryStyler s = chart.getStyler();
        s.setChartBackgroundColor(Color.WHITE);
        s.setLegendPosition(Styler.LegendPosition.OutsideS);
        s.setLegendLayout(Styler.LegendLayout.Horizontal);
        s.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        s.setLegendFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        s.setAxisTickLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        s.setYAxisDecimalPattern("#,##0.###");
        chart.getStyler().setSeriesColors(new Color[] {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x999999),
                new Color(0xd62728)});
        return chart;
    }
}
