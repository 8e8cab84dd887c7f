/**
 * Micrometer meters for an Ekko generator: {@link dev.ekko.micrometer.EkkoMetrics} binds a generator's status to a
 * {@link io.micrometer.core.instrument.MeterRegistry}.
 */
package dev.ekko.micrometer;
