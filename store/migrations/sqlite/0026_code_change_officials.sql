-- healthcode schema 0026: a code change cites the officials behind it:
-- the two command officers who put its ruleset in force (ruleset_by, a
-- JSON list), and the designation whose approval or change caused it with
-- its recorder and approver (designation, designation_by). Empty for
-- changes logged before.
ALTER TABLE code_changes ADD COLUMN ruleset_by TEXT NOT NULL DEFAULT '';
ALTER TABLE code_changes ADD COLUMN designation TEXT NOT NULL DEFAULT '';
ALTER TABLE code_changes ADD COLUMN designation_by TEXT NOT NULL DEFAULT '';
