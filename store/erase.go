package store

import (
	"context"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// EraseResident deletes a resident's personal data: the personal parts of
// every log entry about them (their salted commitments stay in the leaves,
// so every leaf hash, proof and checkpoint stays valid), among them the
// evidence references of their facts, and the name and phone in the
// residents table. The erasure is itself a log entry. In a v1 log the
// pseudonymous id, the facts and the code history remained; since v2
// leaves (whose personal parts hold whom each entry is about), every row
// about the resident goes: they can no longer be rebuilt from the log.
// Returns ENOTFOUND, EFORBIDDEN.
func (db *DB) EraseResident(ctx context.Context, id string) error {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.Authorize(actor, healthcode.OpErasePersonal, "", ""); err != nil {
		return err
	}
	return db.write(ctx, func(t *Tx) error {
		var known int
		if err := t.queryRow("SELECT COUNT(*) FROM residents WHERE id = ?", id).Scan(&known); err != nil {
			return err
		}
		if known == 0 {
			return healthcode.Errorf(healthcode.ENOTFOUND, "no resident %q", id)
		}
		res, err := t.exec("DELETE FROM log_personal WHERE subject = ?", id)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		res, err = t.exec("UPDATE facts SET evidence = '', evidence_salt = ? WHERE subject = ? AND length(evidence_salt) > 0", []byte{}, id)
		if err != nil {
			return err
		}
		m, _ := res.RowsAffected()
		n += m
		// Facts recorded before migration 0005 kept a copy beside their
		// personal part in log_personal, deleted above.
		if _, err := t.exec("UPDATE facts SET evidence = '' WHERE subject = ? AND evidence <> ''", id); err != nil {
			return err
		}
		// The rows the resident's entries set go with them (the
		// log.erased entry's apply function deletes the projected ones;
		// these are operational, keyed to the resident's row).
		for _, q := range []string{"DELETE FROM code_schedule WHERE resident = ?", "DELETE FROM code_heads WHERE resident = ?"} {
			if _, err := t.exec(q, id); err != nil {
				return err
			}
		}
		// The resident's chain starts anew: the entries it linked no
		// longer open, so nothing may link to them.
		head, had := t.b.subjects[id]
		if !had {
			if head, err = t.chainHead(id); err != nil {
				return err
			}
		}
		t.b.undo = append(t.b.undo, subjectUndo{subject: id, prev: head, had: had})
		t.b.subjects[id] = subjectHead{index: -1, county: head.county}
		_, err = t.record(tlog.KindLogErased, actor, id, &evLogErased{Resident: id, PersonalParts: n}, nil, nil)
		return err
	})
}
