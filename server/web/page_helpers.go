package web

import (
	"strconv"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

// N writes a published count: the number, or "<10" when the store
// suppressed it (store.MinPublishedCount).
func (pg *page) N(c store.Count) string {
	if c == nil {
		return "<" + strconv.Itoa(store.MinPublishedCount)
	}
	return strconv.FormatInt(*c, 10)
}

// Str turns bytes (a fact's JSON payload) into text for a template.
func (pg *page) Str(b []byte) string { return string(b) }

// CaseStatuses are the values of a case_status fact's status field.
func (pg *page) CaseStatuses() []string {
	return []string{"confirmed", "asymptomatic", "suspected", "recovered", "excluded"}
}

// Colours are the code colours, in order of severity.
func (pg *page) Colours() []healthcode.Colour { return colours }

// Cell writes a count of a table of published counts: "–" when the store
// has no row (none), "<10" when it suppressed the count.
func (pg *page) Cell(m map[string]store.Count, key string) string {
	c, ok := m[key]
	if !ok {
		return "–"
	}
	return pg.N(c)
}

// PartyRole names who a party is in words: an official's role, or a data
// source (never their id, which means nothing to a resident).
func (pg *page) PartyRole(p healthcode.Party) string {
	if p.Kind == healthcode.ActorSource {
		return pg.Or("party.source", p.Kind)
	}
	return pg.Or("role."+p.Role, p.Role)
}

// ReadsResidents reports whether the logged-in person's role finds and
// reads residents (community workers, flow tracers, command officers): the
// pages offer a search to them only.
func (pg *page) ReadsResidents() bool { return readsResidents(pg.Actor) }

// SelfActor reports whether a leaf's actor is the resident the entry is
// about (actor.id "self", tlog.SelfActor): the explorer shows a label
// ("本人", "the resident"), not the literal id.
func (pg *page) SelfActor(a tlog.Actor) bool {
	return a.Kind == tlog.ActorResident && a.ID == tlog.SelfActor
}
