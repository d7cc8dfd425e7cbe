package healthcode

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The decisions about designations, without a database: their length,
// the cap on designations covering one place, when one is evaluated, the
// mass-change threshold, and the release or refusal of a designation
// held for one resident.

func designation(from, until time.Time) *Fact {
	return &Fact{Key: "o_cmd:ra-1", Kind: "risk_area", Subject: "410105001",
		Payload: json.RawMessage(`{"level":"high","from":"` + from.Format(time.RFC3339) + `","until":"` + until.Format(time.RFC3339) + `"}`)}
}

func TestDesignationSpan(t *testing.T) {
	from, until, err := DesignationSpan(designation(t0, t0.Add(14*day)))
	if err != nil || !from.Equal(t0) || !until.Equal(t0.Add(14*day)) {
		t.Errorf("span %v to %v, %v; want %v to %v", from, until, err, t0, t0.Add(14*day))
	}
	if _, _, err := DesignationSpan(&Fact{Key: "k", Payload: json.RawMessage(`[]`)}); err == nil {
		t.Error("a payload that is not an object has a span")
	}
}

func TestCheckDesignationLength(t *testing.T) {
	limit := 14 * day
	tests := []struct {
		name string
		fact *Fact
		code string
		msg  string
	}{
		{"14 days", designation(t0, t0.Add(14*day)), "", ""},
		{"a second longer", designation(t0, t0.Add(14*day+time.Second)), EINVALID, "at most 14d (Limits.MaxDesignation), this one 14d1s"},
		{"30 days", designation(t0, t0.Add(30*day)), EINVALID, "this one 30d"},
		{"no payload", &Fact{Key: "k", Payload: json.RawMessage(`"x"`)}, EINVALID, "designation k: payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDesignationLength(tt.fact, limit)
			wantErr(t, err, tt.code, "payload.until")
			if err != nil && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}

func TestCheckDesignationCap(t *testing.T) {
	const (
		county    = "410105"
		street    = "410105001"
		community = "410105001001"
		elsewhere = "410105002"
	)
	span := func(area string, from, until time.Duration) AreaSpan {
		return AreaSpan{Area: area, From: t0.Add(from), Until: t0.Add(until)}
	}
	d := span(street, 0, 10*day)
	tests := []struct {
		name  string
		near  []AreaSpan
		limit int
		code  string
		msg   string
	}{
		{"alone", nil, 1, "", ""},
		{"one more, at the limit", []AreaSpan{span(street, 0, day)}, 2, "", ""},
		{"one more, over the limit", []AreaSpan{span(street, 0, day)}, 1, EINVALID, "410105001 would be covered by 2 designations at 2022-06-14T09:00:00Z"},
		{"one around it", []AreaSpan{span(county, 0, day)}, 1, EINVALID, "410105001 would be covered by 2"},
		{"one inside it, starting later", []AreaSpan{span(community, 2*day, 3*day)}, 1, EINVALID, "410105001001 would be covered by 2 designations at 2022-06-16T09:00:00Z"},
		{"one before it", []AreaSpan{span(street, -2*day, 0)}, 1, "", ""},
		{"one after it", []AreaSpan{span(street, 10*day, 11*day)}, 1, "", ""},
		{"one elsewhere", []AreaSpan{span(elsewhere, 0, day)}, 1, "", ""},
		{"two in turn", []AreaSpan{span(street, 0, 2*day), span(street, 2*day, 4*day)}, 2, "", ""},
		{"two at once", []AreaSpan{span(street, 0, 2*day), span(county, day, 4*day)}, 2, EINVALID, "covered by 3 designations at 2022-06-15T09:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDesignationCap(d, tt.near, tt.limit)
			wantErr(t, err, tt.code, "subject")
			if err != nil && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}

func TestDesignationEvalTime(t *testing.T) {
	from, until := t0, t0.Add(day)
	for _, tt := range []struct{ now, want time.Time }{
		{t0.Add(time.Hour), t0.Add(time.Hour)}, // in force: now
		{t0.Add(-time.Hour), from},             // not yet: from its start
		{until, from},                          // over: from its start
	} {
		if got := DesignationEvalTime(from, until, tt.now); !got.Equal(tt.want) {
			t.Errorf("recorded at %v: evaluated at %v, want %v", tt.now, got, tt.want)
		}
	}
}

func TestMassChange(t *testing.T) {
	for _, tt := range []struct {
		imp  *Impact
		want bool
	}{
		{nil, false},
		{&Impact{Changed: 100}, false},
		{&Impact{Changed: 101}, true},
	} {
		if got := MassChange(tt.imp, 100); got != tt.want {
			t.Errorf("MassChange(%+v, 100) = %v", tt.imp, got)
		}
	}
}

func TestCheckHoldDecision(t *testing.T) {
	tests := []struct {
		name    string
		actor   Actor
		release bool
		reason  string
		code    string
	}{
		{"a release", command, true, "", ""},
		{"a refusal", command, false, "the appeal stands", ""},
		{"a refusal without a reason", command, false, "no", EINVALID},
		{"a long reason", command, true, strings.Repeat("x", MaxReasonBytes+1), EINVALID},
		{"a tracer", tracer, true, "", EFORBIDDEN},
		{"the public", Actor{}, true, "", EUNAUTH},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, CheckHoldDecision(tt.actor, tt.release, tt.reason), tt.code, "")
		})
	}
}

func TestDecideHold(t *testing.T) {
	// Held for the command of city 410100 (above the recorder's county).
	state := func(hold string, edit func(*Fact)) HoldState {
		f := &Fact{Key: "o_rec:ra-1", Kind: "risk_area", Subject: "410105001", RecordedBy: "o_rec", ApprovedBy: "o_appr", Status: FactActive}
		if edit != nil {
			edit(f)
		}
		return HoldState{Status: hold, Scope: "410100", Home: home, Designation: f}
	}
	released, refused := HoldReleased, HoldRefused
	otherCity := Actor{Kind: ActorOfficial, ID: "o_city2", Role: RoleCommand, Jurisdiction: "410200"}
	tests := []struct {
		name    string
		actor   Actor
		st      HoldState
		release bool
		code    string
		want    *string
	}{
		{name: "released", actor: command2, st: state(HoldHeld, nil), release: true, want: &released},
		{name: "refused", actor: command2, st: state(HoldHeld, nil), want: &refused},
		{name: "refused while pending", actor: command2, st: state(HoldHeld, func(f *Fact) { f.Status = FactPending }), want: &refused},
		{name: "released while pending", actor: command2, st: state(HoldHeld, func(f *Fact) { f.Status = FactPending }), release: true, code: ECONFLICT},
		{name: "the county below the scope", actor: command, st: state(HoldHeld, nil), release: true, code: EFORBIDDEN},
		{name: "outside the resident's home", actor: otherCity, st: state(HoldHeld, nil), release: true, code: ENOTFOUND},
		{name: "a tracer", actor: tracer, st: state(HoldHeld, nil), release: true, code: ENOTFOUND},
		{name: "its recorder", actor: command2, st: state(HoldHeld, func(f *Fact) { f.RecordedBy = command2.ID }), release: true, code: EFORBIDDEN},
		{name: "its approver", actor: command2, st: state(HoldHeld, func(f *Fact) { f.ApprovedBy = command2.ID }), code: EFORBIDDEN},
		{name: "a retry of the release", actor: command2, st: state(HoldReleased, nil), release: true},
		{name: "a retry of the refusal", actor: command2, st: state(HoldRefused, nil)},
		{name: "a release after the refusal", actor: command2, st: state(HoldRefused, nil), release: true, code: ECONFLICT},
		{name: "a refusal after the release", actor: command2, st: state(HoldReleased, nil), code: ECONFLICT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecideHold(tt.actor, "r_1", tt.st, tt.release)
			check(t, got, err, tt.code, "", tt.want)
		})
	}
	if diff := cmp.Diff([]string{HoldHeld, HoldReleased, HoldRefused}, []string{"held", "released", "refused"}); diff != "" {
		t.Errorf("hold statuses, as the log's projection stores them (-got +want):\n%s", diff)
	}
}
