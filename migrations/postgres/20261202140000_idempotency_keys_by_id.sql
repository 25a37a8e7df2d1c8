-- Idempotency keys expire in the order they were first taken, which is their ids' order: the
-- expiry worker reads the oldest ids and deletes those past the TTL (issue 15, second
-- session). The index on `taken_at` it used was one more entry for every keyed request's
-- write to add (the key's row is now written by the request's own write).
DROP INDEX idempotency_keys_taken_at;
