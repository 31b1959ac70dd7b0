-- Registers every dt=YYYY-MM-DD/ folder Firehose has written as a partition.
MSCK REPAIR TABLE raw_events
