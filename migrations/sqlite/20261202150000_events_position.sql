-- The stream reads events in (tx, id) order after a position (issue 15, second session). On
-- SQLite that order had no index: every read of the hub, of a stream catching up and of the
-- newest position scanned the whole table and sorted it, which a benchmark found once the
-- table held a few hundred thousand events (a thousand streams opening at once waited 30 s).
-- PostgreSQL has had this index since the table was made.
CREATE INDEX events_position ON events (tx, id);
