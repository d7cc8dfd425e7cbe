package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/healthcode/healthcode"
)

// This file holds how officials find people: a search by name, phone or
// ID number within the official's jurisdiction, a community worker's
// roster, and one logged read of a resident's whole file per visit. Reads
// only: the projection is untouched, and every read of personal data is a
// data.accessed entry as elsewhere.

// PeoplePerPage is the length of a page of search results or a roster.
const PeoplePerPage = 20

// maxQuery bounds a search's text.
const maxQuery = 64

// SearchResidents finds residents within the acting official's
// jurisdiction by name (the name or its beginning), phone number or
// national ID number (matched by its hash; the number is never stored).
// page counts from 1. Every resident shown is a logged read
// (data.accessed, "search"), counted against the hourly read limit.
// Community workers, flow tracers and command officers only. Returns
// EINVALID, EUNAUTH, EFORBIDDEN, ETOOMANY.
func (db *DB) SearchResidents(ctx context.Context, query string, page int) (*healthcode.PeoplePage, error) {
	actor, err := db.peopleActor(ctx)
	if err != nil {
		return nil, err
	}
	q := strings.TrimSpace(query)
	switch {
	case q == "":
		return nil, healthcode.FieldErrorf("q", "is required: a name, phone number or ID number")
	case utf8.RuneCountInString(q) > maxQuery:
		return nil, healthcode.FieldErrorf("q", "is longer than %d characters", maxQuery)
	}
	if page < 1 {
		page = 1
	}
	hash := db.HashNationalID(strings.ToUpper(q))
	if hash == nil {
		hash = []byte{}
	}
	out, err := db.people(ctx, `(r.name = ? OR r.name LIKE ? ESCAPE '!' OR r.phone = ? OR r.id_hash = ?) AND r.jurisdiction LIKE ?`,
		[]any{q, likePrefix(q), q, hash, healthcode.CodePrefix(actor.Jurisdiction) + "%"}, page)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(out.People))
	for i, p := range out.People {
		ids[i] = p.ID
	}
	if err := db.write(ctx, func(t *Tx) error { return t.recordAccess(actor, ids, "search", true) }); err != nil {
		return nil, err
	}
	return out, nil
}

// Roster lists the residents of the acting official's jurisdiction (a
// community worker's community), by name, with their codes' colours. Each
// page read is one logged read of the list (data.accessed, "roster", of no
// one resident), not a read of each person. Community workers only.
// Returns EUNAUTH, EFORBIDDEN.
func (db *DB) Roster(ctx context.Context, page int) (*healthcode.PeoplePage, error) {
	actor, err := db.peopleActor(ctx)
	if err != nil {
		return nil, err
	}
	if actor.Role != healthcode.RoleWorker {
		return nil, healthcode.Errorf(healthcode.EFORBIDDEN, "only community workers have a roster")
	}
	if page < 1 {
		page = 1
	}
	out, err := db.people(ctx, "r.jurisdiction LIKE ?", []any{healthcode.CodePrefix(actor.Jurisdiction) + "%"}, page)
	if err != nil {
		return nil, err
	}
	if err := db.write(ctx, func(t *Tx) error { return t.recordAccess(actor, []string{""}, "roster", false) }); err != nil {
		return nil, err
	}
	return out, nil
}

// peopleActor is the acting official, if their role reads residents.
func (db *DB) peopleActor(ctx context.Context) (healthcode.Actor, error) {
	actor := healthcode.ActorFrom(ctx)
	if actor.Kind == "" {
		return actor, healthcode.Errorf(healthcode.EUNAUTH, "log in first")
	}
	if actor.Kind != healthcode.ActorOfficial {
		return actor, healthcode.Errorf(healthcode.EFORBIDDEN, "only officials find residents")
	}
	if err := healthcode.Authorize(actor, healthcode.OpReadResident, actor.Jurisdiction, ""); err != nil {
		return actor, err
	}
	return actor, nil
}

// people reads one page of residents matching where, by name, each with
// their code (checked against the log: a code that differs is withheld).
func (db *DB) people(ctx context.Context, where string, args []any, page int) (*healthcode.PeoplePage, error) {
	args = append(args, PeoplePerPage+1, (page-1)*PeoplePerPage)
	rows, err := db.db.QueryContext(ctx, db.dialect.rebind(`SELECT r.id, r.name, r.id_masked, r.jurisdiction, COALESCE(j.name, '')
		FROM residents r LEFT JOIN jurisdictions j ON j.code = r.jurisdiction WHERE `+where+` ORDER BY r.name, r.id LIMIT ? OFFSET ?`), args...)
	out := &healthcode.PeoplePage{People: []healthcode.Person{}, Page: page}
	if err := scanRows(rows, err, func(rows *sql.Rows) error {
		var p healthcode.Person
		if err := rows.Scan(&p.ID, &p.Name, &p.IDMasked, &p.Jurisdiction, &p.JurisdictionName); err != nil {
			return err
		}
		out.People = append(out.People, p)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("find residents: %w", err)
	}
	if len(out.People) > PeoplePerPage {
		out.People, out.More = out.People[:PeoplePerPage], true
	}
	for i := range out.People {
		c, err := db.code(ctx, db.db, out.People[i].ID)
		var ie *IntegrityError
		switch {
		case errors.As(err, &ie):
		case err != nil:
			return nil, err
		default:
			out.People[i].Colour = c.Colour
		}
	}
	return out, nil
}

// readMarkKey marks a context in which one resident's file has been read
// and logged (ReadResidentFile); only this package can set it.
type readMarkKey struct{}

// ReadResidentFile is an official's visit to a resident's page: it
// authorises and logs one read (data.accessed, "file") and returns a
// context in which the further reads of that resident's data during the
// visit (code, history, appeals) are not logged again, so a visit is one
// entry in the resident's "who looked at my data". For the resident
// themself it only authorises. Returns ENOTFOUND, EUNAUTH, EFORBIDDEN,
// ETOOMANY.
func (db *DB) ReadResidentFile(ctx context.Context, id string) (context.Context, *healthcode.Resident, error) {
	r, err := db.readResident(ctx, id, "file")
	if err != nil {
		return ctx, nil, err
	}
	return context.WithValue(ctx, readMarkKey{}, r.ID), r, nil
}

// readLogged reports whether ctx is a visit to resident's file whose read
// is logged already.
func readLogged(ctx context.Context, resident string) bool {
	id, ok := ctx.Value(readMarkKey{}).(string)
	return ok && id == resident
}

// likePrefix is a LIKE pattern (escape character '!') matching what
// begins with s.
func likePrefix(s string) string {
	r := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")
	return r.Replace(s) + "%"
}
