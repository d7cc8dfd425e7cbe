-- healthcode schema 0015: erasing a resident's personal data takes two
-- data operators (issue 15 item 5). The first one's request (a
-- log.erase_requested entry) is projected here until a second operator
-- approves it (log.erased).
ALTER TABLE residents ADD COLUMN erase_requested_by TEXT NOT NULL DEFAULT '';
ALTER TABLE residents ADD COLUMN erase_requested_log INTEGER NOT NULL DEFAULT -1;
