/**
 * A Java client of ekko-server: IDs from a buffer filled ahead of use over HTTP ({@link dev.ekko.client.EkkoClient}).
 * Needs nothing but the JDK.
 */
module dev.ekko.client {
    requires java.net.http;

    exports dev.ekko.client;
}
