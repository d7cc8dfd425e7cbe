package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/tlog"
)

// CreateJurisdictions adds jurisdictions (parents before children), each
// with its log entry, in one transaction. Returns EINVALID for a bad
// jurisdiction, ECONFLICT for an existing code, EFORBIDDEN unless the actor
// manages accounts.
func (db *DB) CreateJurisdictions(ctx context.Context, js []healthcode.Jurisdiction) error {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.Authorize(actor, healthcode.OpManageAccounts, "", ""); err != nil {
		return err
	}
	for i := range js {
		if err := js[i].Validate(); err != nil {
			return fmt.Errorf("jurisdiction %d (%s): %w", i, js[i].Code, err)
		}
	}
	return db.write(ctx, func(t *Tx) error {
		for _, j := range js {
			_, err := t.record(tlog.KindJurisdictionCreated, actor, "", &evJurisdiction{
				Code: j.Code, Level: j.Level.String(), Name: j.Name, Parent: j.Parent,
			}, nil, nil)
			if err := conflictOr(err, "jurisdiction "+j.Code+" already exists"); err != nil {
				return err
			}
		}
		return nil
	})
}

// Jurisdictions returns the whole tree, parents before children.
func (db *DB) Jurisdictions(ctx context.Context) ([]healthcode.Jurisdiction, error) {
	rows, err := db.db.QueryContext(ctx, "SELECT code, name, level, COALESCE(parent, '') FROM jurisdictions ORDER BY level, code")
	if err != nil {
		return nil, fmt.Errorf("list jurisdictions: %w", err)
	}
	defer rows.Close()
	var js []healthcode.Jurisdiction
	for rows.Next() {
		var j healthcode.Jurisdiction
		var level int
		if err := rows.Scan(&j.Code, &j.Name, &level, &j.Parent); err != nil {
			return nil, err
		}
		j.Level = healthcode.Level(level)
		js = append(js, j)
	}
	return js, rows.Err()
}

// CreateResidents registers residents in one transaction, each with a
// resident.registered entry whose personal part (name, phone, id hash) is
// erasable. Returns EINVALID, ECONFLICT (id or national id already
// registered) or EFORBIDDEN.
func (db *DB) CreateResidents(ctx context.Context, rs []healthcode.Resident) error {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.Authorize(actor, healthcode.OpManageAccounts, "", ""); err != nil {
		return err
	}
	for i := range rs {
		if err := rs[i].Validate(); err != nil {
			return fmt.Errorf("resident %d (%s): %w", i, rs[i].ID, err)
		}
	}
	return db.write(ctx, func(t *Tx) error {
		for start := 0; start < len(rs); start += 500 {
			part := rs[start:min(start+500, len(rs))]
			if err := t.refuseErasedIDs(start, part); err != nil {
				return err
			}
			p := t.projector(nil)
			for _, r := range part {
				if _, err := p.record(tlog.KindResidentRegistered, actor, r.ID,
					&evResident{ID: r.ID, Jurisdiction: r.Jurisdiction},
					&evResidentPersonal{Name: r.Name, Phone: r.Phone, IDHash: r.IDHash, IDMasked: r.IDMasked}, true); err != nil {
					return err
				}
			}
			err := p.flush()
			if err := conflictOr(unwrapInsert(err), "a resident with this id or national id number is already registered"); err != nil {
				return err
			}
		}
		return nil
	})
}

// refuseErasedIDs refuses residents rs (the batch's from first on) whose
// id was erased: its chain and its log.erased entry stay in the log, and
// a new registration under it would continue that chain and let a second
// erasure delete the first one's record (evLogErasedPersonal).
func (t *Tx) refuseErasedIDs(first int, rs []healthcode.Resident) error {
	args := make([]any, len(rs))
	at := make(map[string]int, len(rs))
	for i, r := range rs {
		args[i] = r.ID
		at[r.ID] = first + i
	}
	rows, err := t.query(`SELECT s.subject, s.last_index, e.data FROM log_subjects s JOIN log_entries e ON e.idx = s.last_index
		WHERE s.subject IN (`+placeholders(len(rs))+`) AND NOT EXISTS (SELECT 1 FROM residents r WHERE r.id = s.subject)`, args...)
	var refused error
	if err := scanRows(rows, err, func(rows *sql.Rows) error {
		var id string
		var idx int64
		var data []byte
		if err := rows.Scan(&id, &idx, &data); err != nil {
			return err
		}
		e, err := tlog.ParseEntry(data)
		if err != nil {
			return fmt.Errorf("entry %d: %w", idx, err)
		}
		if e.Kind == tlog.KindLogErased && refused == nil {
			refused = healthcode.Errorf(healthcode.ECONFLICT,
				"resident %d (%s): this id was erased (log entry %d); an erased id is not registered again", at[id], id, idx)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("check for erased ids: %w", err)
	}
	return refused
}

// unwrapInsert returns the driver error inside insertRows' wrapping, so
// conflictOr can classify it.
func unwrapInsert(err error) error {
	if err == nil {
		return nil
	}
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// Resident returns a resident, if the actor may read them: the resident
// themself, or an official whose post covers the resident's home (the
// read is logged as data.accessed). Returns
// ENOTFOUND (also when the actor may not see the resident, so ids cannot
// be probed), EUNAUTH.
func (db *DB) Resident(ctx context.Context, id string) (*healthcode.Resident, error) {
	return db.readResident(ctx, id, "resident")
}

func (db *DB) resident(ctx context.Context, id string) (*healthcode.Resident, error) {
	var r healthcode.Resident
	var created string
	err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT id, id_hash, name, phone, jurisdiction, created_at, id_masked FROM residents WHERE id = ?"), id).
		Scan(&r.ID, &r.IDHash, &r.Name, &r.Phone, &r.Jurisdiction, &created, &r.IDMasked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, healthcode.Errorf(healthcode.ENOTFOUND, "no resident %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read resident: %w", err)
	}
	r.CreatedAt, err = parseTime(created)
	return &r, err
}

// CountResidents returns how many residents are registered.
func (db *DB) CountResidents(ctx context.Context) (int64, error) {
	var n int64
	err := db.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM residents").Scan(&n)
	return n, err
}

// CreateOfficial adds an official with a login account. Returns EINVALID,
// ECONFLICT (id or login taken), EFORBIDDEN.
func (db *DB) CreateOfficial(ctx context.Context, o healthcode.Official, login, password string) error {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.Authorize(actor, healthcode.OpManageAccounts, o.Jurisdiction, ""); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	hash, err := hashPassword(login, password, db.rand)
	if err != nil {
		return err
	}
	return db.write(ctx, func(t *Tx) error {
		_, err := t.record(tlog.KindOfficialCreated, actor, "", &evOfficial{ID: o.ID, Role: string(o.Role), Jurisdiction: o.Jurisdiction},
			&evOfficialPersonal{Name: o.Name, Login: login}, nil)
		if err := conflictOr(err, "official "+o.ID+" already exists"); err != nil {
			return err
		}
		return t.insertAccount(login, healthcode.ActorOfficial, o.ID, hash)
	})
}

// Official returns an official by id. Returns ENOTFOUND.
func (db *DB) Official(ctx context.Context, id string) (*healthcode.Official, error) {
	var o healthcode.Official
	var role, created string
	var disabled int
	err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT id, name, role, jurisdiction, disabled, created_at FROM officials WHERE id = ?"), id).
		Scan(&o.ID, &o.Name, &role, &o.Jurisdiction, &disabled, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, healthcode.Errorf(healthcode.ENOTFOUND, "no official %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read official: %w", err)
	}
	o.Role, o.Disabled = healthcode.Role(role), disabled != 0
	o.CreatedAt, err = parseTime(created)
	return &o, err
}

// CreateSource registers a data source with its API key (stored hashed).
// Returns EINVALID, ECONFLICT, EFORBIDDEN.
func (db *DB) CreateSource(ctx context.Context, s healthcode.Source, apiKey string) error {
	actor := healthcode.ActorFrom(ctx)
	if err := healthcode.Authorize(actor, healthcode.OpManageAccounts, s.Jurisdiction, ""); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return err
	}
	if len(apiKey) < 24 {
		return healthcode.FieldErrorf("api_key", "must be at least 24 characters")
	}
	return db.write(ctx, func(t *Tx) error {
		_, err := t.record(tlog.KindSourceCreated, actor, "", &evSource{ID: s.ID, Name: s.Name, Kinds: s.Kinds, Jurisdiction: s.Jurisdiction},
			nil, func(table string, cols []string, vals []any) { setCol(cols, vals, "key_hash", keyHash(apiKey)) })
		return conflictOr(err, "source "+s.ID+" or its API key already exists")
	})
}

// SourceByKey authenticates a data source by API key. Returns EUNAUTH for
// an unknown key or a disabled source.
func (db *DB) SourceByKey(ctx context.Context, apiKey string) (*healthcode.Source, error) {
	var s healthcode.Source
	var kinds, created string
	var disabled int
	err := db.db.QueryRowContext(ctx, db.dialect.rebind("SELECT id, name, kinds, jurisdiction, disabled, created_at FROM sources WHERE key_hash = ?"), keyHash(apiKey)).
		Scan(&s.ID, &s.Name, &kinds, &s.Jurisdiction, &disabled, &created)
	if errors.Is(err, sql.ErrNoRows) || err == nil && disabled != 0 {
		return nil, healthcode.Errorf(healthcode.EUNAUTH, "unknown or disabled API key")
	}
	if err != nil {
		return nil, fmt.Errorf("read source: %w", err)
	}
	s.Kinds = strings.Split(kinds, ",")
	s.CreatedAt, err = parseTime(created)
	return &s, err
}

func splitKinds(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
