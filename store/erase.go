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
// residents table. The erasure is itself a log entry. The pseudonymous id,
// the facts and the code history remain. Returns ENOTFOUND, EFORBIDDEN.
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
		_, err = t.record(tlog.KindLogErased, actor, id, &evLogErased{Resident: id, PersonalParts: n}, nil, nil)
		return err
	})
}
