-- What the archive holds: events per action (the generator's summary must match exactly).
SELECT browseraction, count(*) AS events, count(DISTINCT session_id) AS sessions
FROM raw_events
GROUP BY browseraction
ORDER BY browseraction
