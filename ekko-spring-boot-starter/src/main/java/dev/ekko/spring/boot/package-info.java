/**
 * Spring Boot auto-configuration for Ekko. {@link dev.ekko.spring.boot.EkkoAutoConfiguration} builds an
 * {@link dev.ekko.IdGenerator} bean from the {@code ekko.*} properties (the core's keys, handed to
 * {@link dev.ekko.Ekko.Builder#setting(String, String)} unchanged) and one bean per product line named under
 * {@code ekko.spring.products}; {@link dev.ekko.spring.boot.EkkoHealthAutoConfiguration} adds a health indicator when
 * Spring Boot's health support is on the class path, and {@link dev.ekko.spring.boot.EkkoMetricsAutoConfiguration} the
 * meters of {@code ekko-micrometer} when it and a Micrometer registry are there.
 */
package dev.ekko.spring.boot;
