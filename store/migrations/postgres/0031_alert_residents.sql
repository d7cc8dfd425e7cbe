-- healthcode schema 0031: an alert concerning one resident (a re-raise
-- after a granted appeal, contacts citing a case, an overdue appeal) is an
-- entry about that resident (issue 15): its leaf names no one, and erasing
-- the resident removes the alert's row with the rest of their rows.
ALTER TABLE alerts ADD COLUMN resident TEXT NOT NULL DEFAULT '';
CREATE INDEX alerts_resident ON alerts (resident);
