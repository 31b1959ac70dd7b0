-- Registers every month=<n>/ folder under the table's location as a partition.
MSCK REPAIR TABLE flights
