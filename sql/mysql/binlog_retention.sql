-- Keep binary logs for a day, so DMS can resume after a stop (RDS purges them soon otherwise).
CALL mysql.rds_set_configuration('binlog retention hours', 24);
