/**
 * Micrometer meters for an Ekko generator ({@link dev.ekko.micrometer.EkkoMetrics}).
 */
@SuppressWarnings("requires-transitive-automatic")
module dev.ekko.micrometer {
    // Both appear in the exported API (an IdGenerator goes in, a MeterBinder comes out), so a module that requires this
    // one reads them too. micrometer-core is an automatic module (Automatic-Module-Name micrometer.core, no
    // module-info): javac warns that its exports may change when it gets a descriptor, a risk Micrometer's users share.
    requires transitive dev.ekko.core;
    requires transitive micrometer.core;

    exports dev.ekko.micrometer;
}
