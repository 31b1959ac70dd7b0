-- Every window the detector reported, in time order.
SELECT window_start, window_end, shard_id, clicks, impressions, ctr, score, alert, warming_up
FROM windows
ORDER BY window_start, shard_id
