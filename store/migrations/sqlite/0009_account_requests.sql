-- healthcode schema 0009: disabling a command officer or an admin takes two
-- data operators. The first one's request (an official.disable_requested
-- entry) is projected here until a second operator confirms it
-- (official.disabled) or the account is kept (official.enabled).
ALTER TABLE officials ADD COLUMN disable_requested_by TEXT NOT NULL DEFAULT '';
ALTER TABLE officials ADD COLUMN disable_requested_log INTEGER NOT NULL DEFAULT -1;
