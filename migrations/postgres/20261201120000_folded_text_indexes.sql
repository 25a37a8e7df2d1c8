-- Free text is matched without ASCII case (`lower(column) = $1`, docs/api.md): these
-- expression indexes serve the lookups by value through the unique keys, e.g.
-- `integration[code]=po_to_erp` and `created_by[login]=…`. The columns are COLLATE "C",
-- under which lower() folds ASCII letters only, as SQLite's does, and is immutable.
CREATE INDEX integrations_code_folded ON integrations (lower(code));
CREATE INDEX integrations_name_folded ON integrations (lower(name));
CREATE INDEX api_clients_login_folded ON api_clients (lower(login));
