-- Page tokens carry a row's created_at in milliseconds (base64 of ["<createdAt>","<id>"], as Bird's
-- do). Channels, template projects and workspaces took created_at from now(), in microseconds, so a token could
-- name a position between two rows and the next page would repeat the last one. New rows are
-- written with millisecond timestamps by the application; this brings the existing ones in line.
-- Truncating keeps the order (rows within one millisecond are then ordered by id, a UUIDv7).
update channels set created_at = date_trunc('milliseconds', created_at) where created_at <> date_trunc('milliseconds', created_at);
update template_projects set created_at = date_trunc('milliseconds', created_at) where created_at <> date_trunc('milliseconds', created_at);
update workspaces set created_at = date_trunc('milliseconds', created_at) where created_at <> date_trunc('milliseconds', created_at);
