package healthcode

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The fact workflow's decisions, without a database: who records, what a
// line must be, which facts wait for a second official, the holds, and
// who approves, rejects and retracts.

var (
	source    = Actor{Kind: ActorSource, ID: "s_cdc", Jurisdiction: "410105"}
	cdc       = &Source{ID: "s_cdc", Kinds: []string{"test_result"}, Jurisdiction: "410105"}
	worker105 = Actor{Kind: ActorOfficial, ID: "o_w", Role: RoleWorker, Jurisdiction: "410105"}
	auditor   = Actor{Kind: ActorOfficial, ID: "o_aud", Role: RoleAuditor, Jurisdiction: "410105"}
)

// wantErr fails unless err has code (and names field, if given), or,
// with code "", is nil.
func wantErr(t *testing.T, err error, code, field string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	wantCode(t, err, code, field)
}

func TestCheckFactBatch(t *testing.T) {
	tests := []struct {
		name  string
		actor Actor
		n     int
		code  string
	}{
		{"source", source, 1, ""},
		{"tracer", tracer, MaxFactBatch, ""},
		{"command", command, 3, ""},
		{"the public", Actor{}, 1, EUNAUTH},
		{"a resident", self, 1, EFORBIDDEN},
		{"a community worker", worker105, 1, EFORBIDDEN},
		{"an auditor", auditor, 1, EFORBIDDEN},
		{"empty", source, 0, EINVALID},
		{"too many", tracer, MaxFactBatch + 1, EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckFactBatch(tt.actor, tt.n)
			wantErr(t, err, tt.code, "")
		})
	}
}

// schema is a FactSchema of two kinds: test_result (sources only) and
// contact (tracers may enter it), whose payload must say "ok".
var schema = FactSchema{
	Validate: func(f *Fact, now time.Time) error {
		if f.Kind != "test_result" && f.Kind != "contact" {
			return FieldErrorf("kind", "unknown kind %q", f.Kind)
		}
		if f.ObservedAt.After(now) {
			return FieldErrorf("observed_at", "is in the future")
		}
		if string(f.Payload) != `{"ok":true}` {
			return FieldErrorf("payload", "is not ok")
		}
		return nil
	},
	MayHandEnter: func(kind string, role Role) bool { return kind == "contact" && role == RoleTracer },
}

func TestPrepareFact(t *testing.T) {
	local := time.FixedZone("CST", 8*3600)
	submitted := func(kind string) Fact {
		return Fact{ID: "f-1", Kind: kind, Subject: "r_1", ObservedAt: t0.Add(-time.Hour).In(local), Payload: json.RawMessage(`{"ok":true}`),
			// Provenance a submitter cannot set.
			Source: "s_forged", RecordedBy: "o_forged", ApprovedBy: "o_forged", RecordedAt: t0.Add(-day)}
	}
	tests := []struct {
		name   string
		actor  Actor
		src    *Source
		fact   Fact
		edit   func(*Fact)
		code   string
		field  string
		origin string
	}{
		{name: "a source's", actor: source, src: cdc, fact: submitted("test_result"), origin: "s_cdc"},
		{name: "a tracer's", actor: tracer, fact: submitted("contact"), origin: "o_tracer"},
		{name: "no id", actor: source, src: cdc, fact: submitted("test_result"), edit: func(f *Fact) { f.ID = " " }, code: EINVALID, field: "id"},
		{name: "invalid for its kind", actor: source, src: cdc, fact: submitted("test_result"), edit: func(f *Fact) { f.Payload = json.RawMessage(`{}`) }, code: EINVALID, field: "payload"},
		{name: "observed in the future", actor: source, src: cdc, fact: submitted("test_result"), edit: func(f *Fact) { f.ObservedAt = t0.Add(time.Hour) }, code: EINVALID, field: "observed_at"},
		{name: "a kind the source is not registered for", actor: source, src: cdc, fact: submitted("contact"), code: EINVALID, field: "kind"},
		{name: "a kind the role may not enter", actor: command, fact: submitted("contact"), code: EINVALID, field: "kind"},
		{name: "a kind no one enters by hand", actor: tracer, fact: submitted("test_result"), code: EINVALID, field: "kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.fact
			if tt.edit != nil {
				tt.edit(&in)
			}
			got, err := PrepareFact(tt.actor, tt.src, in, t0, schema)
			if tt.code != "" {
				wantCode(t, err, tt.code, tt.field)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := in
			want.Source, want.RecordedBy, want.ApprovedBy = "", "", ""
			if tt.src != nil {
				want.Source = tt.origin
			} else {
				want.RecordedBy = tt.origin
			}
			want.RecordedAt, want.ObservedAt, want.Key = t0, in.ObservedAt.UTC(), tt.origin+":f-1"
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("prepared fact (-want +got):\n%s", diff)
			}
			if got.ObservedAt.Location() != time.UTC {
				t.Errorf("observed at %v, not in UTC", got.ObservedAt)
			}
		})
	}
}

func TestCheckFactSubject(t *testing.T) {
	person := &Fact{Kind: "contact", Subject: "r_1"}
	area := &Fact{Kind: "risk_area", Subject: "410105001"}
	tests := []struct {
		name   string
		actor  Actor
		fact   *Fact
		area   bool
		target string
		code   string
	}{
		{"a tracer inside their post", tracer, person, false, home, ""},
		{"a command officer above", command2, person, false, home, ""},
		{"a source inside its jurisdiction", source, person, false, home, ""},
		{"an area inside the post", command, area, true, "410105001", ""},
		{"no such resident", tracer, person, false, "", EINVALID},
		{"no such area", command, area, true, "", EINVALID},
		{"a tracer outside their post", tracer, person, false, otherHome, EINVALID},
		{"an area outside the post", farCmd, area, true, "410105001", EINVALID},
		{"a source outside its jurisdiction", source, person, false, otherHome, EINVALID},
		{"a worker", worker105, person, false, home, EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckFactSubject(tt.actor, tt.fact, tt.area, tt.target)
			wantErr(t, err, tt.code, "subject")
		})
	}
}

func TestRecordedStatus(t *testing.T) {
	tests := []struct {
		actor  Actor
		raises bool
		want   FactStatus
	}{
		{tracer, true, FactPending},
		{tracer, false, FactActive},
		{command, true, FactPending},
		{source, true, FactActive}, // a source's facts never wait
		{source, false, FactActive},
	}
	for _, tt := range tests {
		if got := RecordedStatus(tt.actor, tt.raises); got != tt.want {
			t.Errorf("RecordedStatus(%s, raises %v) = %s, want %s", tt.actor.ID, tt.raises, got, tt.want)
		}
	}
}

func TestCheckReraise(t *testing.T) {
	g := GrantedAppeal{Appeal: "a_1", GrantedAt: "2022-06-14T09:00:00.000Z", Facts: []Fact{
		{Key: "o_t:1", Kind: "contact", Evidence: "case file 7", Payload: json.RawMessage(`{"case_id":"c1"}`)},
	}}
	tests := []struct {
		name string
		fact Fact
		code string
	}{
		{"new evidence and content", Fact{Kind: "contact", Evidence: "case file 8", Payload: json.RawMessage(`{"case_id":"c2"}`)}, ""},
		{"the same content of another kind", Fact{Kind: "test_result", Evidence: "lab 1", Payload: json.RawMessage(`{"case_id":"c1"}`)}, ""},
		{"no evidence, new content", Fact{Kind: "contact", Payload: json.RawMessage(`{"case_id":"c3"}`)}, ""},
		{"the same evidence", Fact{Kind: "test_result", Evidence: "case file 7", Payload: json.RawMessage(`{}`)}, EINVALID},
		{"the same content, spaced", Fact{Kind: "contact", Evidence: "case file 9", Payload: json.RawMessage(`{ "case_id": "c1" }`)}, EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.fact
			f.Subject = "r_1"
			err := CheckReraise(&f, g)
			if tt.code == "" && err != nil {
				t.Fatal(err)
			}
			if tt.code != "" {
				wantCode(t, err, tt.code, "evidence")
				if !strings.Contains(err.Error(), "o_t:1") || !strings.Contains(err.Error(), "a_1") {
					t.Errorf("error %q names neither the retracted fact nor the appeal", err)
				}
			}
		})
	}
}

func TestVolume(t *testing.T) {
	const limit = 3
	tests := []struct {
		recent, pending int
		held            []bool // by the pending fact's position
		crossed         bool
	}{
		{0, 3, []bool{false, false, false}, false},
		{1, 3, []bool{false, false, true}, true},
		{3, 1, []bool{true}, true},
		{4, 2, []bool{true, true}, false}, // crossed already, alerted before
		{0, 0, nil, false},
	}
	for _, tt := range tests {
		var held []bool
		for k := range tt.pending {
			held = append(held, VolumeHeld(tt.recent, k, limit))
		}
		if !cmp.Equal(held, tt.held) || VolumeCrossed(tt.recent, tt.pending, limit) != tt.crossed {
			t.Errorf("recent %d, pending %d: held %v, crossed %v; want %v, %v", tt.recent, tt.pending,
				held, VolumeCrossed(tt.recent, tt.pending, limit), tt.held, tt.crossed)
		}
	}
}

func TestCheckFactDecision(t *testing.T) {
	tests := []struct {
		approve bool
		reason  string
		code    string
	}{
		{true, "", ""},
		{false, "not the person", ""},
		{false, "no", EINVALID},
		{true, strings.Repeat("x", MaxReasonBytes+1), EINVALID},
	}
	for _, tt := range tests {
		err := CheckFactDecision(tt.approve, tt.reason)
		if tt.code == "" && err != nil {
			t.Errorf("approve %v, reason %q: %v", tt.approve, tt.reason, err)
		}
		if tt.code != "" {
			wantCode(t, err, tt.code, "reason")
		}
	}
}

func TestDecideFact(t *testing.T) {
	pending := func(edit func(*Fact)) *Fact {
		f := &Fact{Key: "o_tracer:1", Kind: "contact", Subject: "r_1", RecordedBy: tracer.ID, Status: FactPending}
		if edit != nil {
			edit(f)
		}
		return f
	}
	decided := func(status FactStatus, by string) *Fact {
		return pending(func(f *Fact) { f.Status, f.ApprovedBy = status, by })
	}
	active, rejected := FactActive, FactRejected
	tests := []struct {
		name    string
		actor   Actor
		st      FactDecisionState
		approve bool
		reason  string
		code    string
		want    *FactStatus
	}{
		{name: "approved", actor: command, st: FactDecisionState{Fact: pending(nil), Target: home}, approve: true, want: &active},
		{name: "rejected", actor: command, st: FactDecisionState{Fact: pending(nil), Target: home}, reason: "wrong person", want: &rejected},
		{name: "approved from above", actor: command2, st: FactDecisionState{Fact: pending(nil), Target: home}, approve: true, want: &active},
		{name: "held, by the hold's command", actor: command2, st: FactDecisionState{Fact: pending(nil), Target: home, Hold: &FactHold{Scope: "410100", Why: HoldVolume}}, approve: true, want: &active},
		{name: "the public", actor: Actor{}, st: FactDecisionState{Fact: pending(nil), Target: home}, approve: true, code: EUNAUTH},
		{name: "a tracer", actor: tracer, st: FactDecisionState{Fact: pending(func(f *Fact) { f.RecordedBy = "o_other" }), Target: home}, approve: true, code: EFORBIDDEN},
		{name: "outside the post", actor: farCmd, st: FactDecisionState{Fact: pending(nil), Target: home}, approve: true, code: EFORBIDDEN},
		{name: "the recorder", actor: command, st: FactDecisionState{Fact: pending(func(f *Fact) { f.RecordedBy = command.ID }), Target: home}, approve: true, code: EFORBIDDEN},
		{name: "the recorder rejecting", actor: command, st: FactDecisionState{Fact: pending(func(f *Fact) { f.RecordedBy = command.ID }), Target: home}, reason: "oops, wrong", code: EFORBIDDEN},
		{name: "held for the command above", actor: command, st: FactDecisionState{Fact: pending(nil), Target: home, Hold: &FactHold{Scope: "410100", Why: HoldReraise}}, approve: true, code: EFORBIDDEN},
		{name: "active already", actor: command, st: FactDecisionState{Fact: decided(FactActive, command2.ID), Target: home}, approve: true, code: ECONFLICT},
		{name: "retracted", actor: command, st: FactDecisionState{Fact: decided(FactRetracted, ""), Target: home}, reason: "wrong person", code: ECONFLICT},
		{name: "a retry of the approval", actor: command, st: FactDecisionState{Fact: decided(FactActive, command.ID), Target: home}, approve: true},
		{name: "a retry of the rejection", actor: command, st: FactDecisionState{Fact: decided(FactRejected, command.ID), Target: home, Reason: "wrong person"}, reason: "wrong person"},
		{name: "a rejection after the approval", actor: command, st: FactDecisionState{Fact: decided(FactActive, command.ID), Target: home}, reason: "wrong person", code: ECONFLICT},
		{name: "a rejection with another reason", actor: command, st: FactDecisionState{Fact: decided(FactRejected, command.ID), Target: home, Reason: "wrong person"}, reason: "other reason", code: ECONFLICT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecideFact(tt.actor, tt.st, tt.approve, tt.reason)
			check(t, got, err, tt.code, "", tt.want)
		})
	}
}

func TestCheckRetraction(t *testing.T) {
	wantCode(t, CheckRetraction("no"), EINVALID, "reason")
	if err := CheckRetraction("entered twice"); err != nil {
		t.Error(err)
	}
}

func TestDecideRetraction(t *testing.T) {
	fact := func(status FactStatus, source, recorder string) *Fact {
		return &Fact{Key: "k:1", Subject: "r_1", Status: status, Source: source, RecordedBy: recorder}
	}
	tests := []struct {
		name  string
		actor Actor
		fact  *Fact
		code  string
	}{
		{"its recorder", tracer, fact(FactActive, "", tracer.ID), ""},
		{"its recorder, pending", tracer, fact(FactPending, "", tracer.ID), ""},
		{"its source", source, fact(FactActive, source.ID, ""), ""},
		{"a command officer", command, fact(FactActive, "", tracer.ID), ""},
		{"a command officer, a source's", command2, fact(FactActive, source.ID, ""), ""},
		{"another tracer", Actor{Kind: ActorOfficial, ID: "o_t2", Role: RoleTracer, Jurisdiction: "410105"}, fact(FactActive, "", tracer.ID), EFORBIDDEN},
		{"another source", Actor{Kind: ActorSource, ID: "s_other", Jurisdiction: "410105"}, fact(FactActive, source.ID, ""), EFORBIDDEN},
		{"a command officer elsewhere", farCmd, fact(FactActive, "", tracer.ID), EFORBIDDEN},
		{"the public", Actor{}, fact(FactActive, "", tracer.ID), EUNAUTH},
		{"retracted already", tracer, fact(FactRetracted, "", tracer.ID), ECONFLICT},
		{"rejected", command, fact(FactRejected, "", tracer.ID), ECONFLICT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := DecideRetraction(tt.actor, tt.fact, home)
			wantErr(t, err, tt.code, "")
		})
	}
	if err := Retractable(fact(FactActive, "", tracer.ID)); err != nil {
		t.Error(err)
	}
	var e *Error
	if err := Retractable(fact(FactRejected, "", tracer.ID)); !errors.As(err, &e) || e.Code != ECONFLICT {
		t.Errorf("Retractable of a rejected fact: %v, want ECONFLICT", err)
	}
}
