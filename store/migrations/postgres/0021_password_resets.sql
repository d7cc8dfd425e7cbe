-- healthcode schema 0021: resetting a command officer's or an admin's
-- password takes two admins. The first one's request (an
-- official.password_reset_requested entry) is projected here until a
-- second admin sets the new password (official.password_reset).
ALTER TABLE officials ADD COLUMN reset_requested_by TEXT NOT NULL DEFAULT '';
ALTER TABLE officials ADD COLUMN reset_requested_log BIGINT NOT NULL DEFAULT -1;
