-- March arrived late, outside the month=<n>/ layout: register it where it is.
ALTER TABLE flights ADD IF NOT EXISTS PARTITION (month = 3) LOCATION 's3://{{ names.bucket("data") }}/late/2013-03/'
