-- healthcode schema 0013: v2 leaves name no one (docs/log.md).
--
-- From this migration on, new entries are healthcode/log/v2: an entry
-- about a resident carries the resident's county in its leaf, and its
-- subject and chain link only in its personal part. The county is kept
-- with each subject's chain head, where the writer reads the head
-- already. Older leaves stay v1: they are immutable.
ALTER TABLE log_subjects ADD COLUMN county TEXT NOT NULL DEFAULT '';
UPDATE log_subjects SET county = COALESCE((SELECT substr(r.jurisdiction, 1, 6) FROM residents r WHERE r.id = log_subjects.subject), '');
