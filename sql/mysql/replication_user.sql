-- The user DMS reads the source as: it selects the tables for the full load and reads the binary
-- log for changes (DMS's documented privileges for a MySQL source). %(password)s is bound by the
-- DAG from the random password it keeps in Secrets Manager, never written here.
CREATE USER IF NOT EXISTS 'dms_reader'@'%' IDENTIFIED BY %(password)s;
ALTER USER 'dms_reader'@'%' IDENTIFIED BY %(password)s;
GRANT SELECT, REPLICATION CLIENT, REPLICATION SLAVE ON *.* TO 'dms_reader'@'%';
