/**
 * The {@code mysql} worker-ID allocator: worker IDs leased from a MySQL or MariaDB table. {@link
 * dev.ekko.worker.mysql.MysqlAllocatorProvider} is found by {@link java.util.ServiceLoader}; {@link
 * dev.ekko.worker.mysql.MysqlAllocators} builds a provider on an application's own {@link javax.sql.DataSource}.
 * See {@code docs/mysql.md} for the settings, the schema, the statements and the failure behaviour.
 */
package dev.ekko.worker.mysql;
