package healthcode

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The appeal workflow's decisions, without a database: each transition
// and each refusal (wrong party, wrong status, outside the jurisdiction,
// after the deadline, the two-person rule).

const (
	home      = "410105001001" // a community of county 410105 (Zhengzhou, Jinshui)
	otherHome = "410106001001" // a community of county 410106
)

var (
	t0        = time.Date(2022, 6, 14, 9, 0, 0, 0, time.UTC)
	day       = 24 * time.Hour
	resident  = &Resident{ID: "r_1", Jurisdiction: home}
	self      = Actor{Kind: ActorResident, ID: "r_1", Role: RoleResident, Jurisdiction: home}
	neighbour = Actor{Kind: ActorResident, ID: "r_2", Role: RoleResident, Jurisdiction: home}
	worker    = Actor{Kind: ActorOfficial, ID: "o_worker", Role: RoleWorker, Jurisdiction: "410105001001"}
	farWorker = Actor{Kind: ActorOfficial, ID: "o_far", Role: RoleWorker, Jurisdiction: otherHome}
	command   = Actor{Kind: ActorOfficial, ID: "o_cmd", Role: RoleCommand, Jurisdiction: "410105"}
	command2  = Actor{Kind: ActorOfficial, ID: "o_cmd2", Role: RoleCommand, Jurisdiction: "410100"}
	farCmd    = Actor{Kind: ActorOfficial, ID: "o_farcmd", Role: RoleCommand, Jurisdiction: "410106"}
	tracer    = Actor{Kind: ActorOfficial, ID: "o_tracer", Role: RoleTracer, Jurisdiction: "410105"}
)

// wantCode fails unless err has code (and names field, if given).
func wantCode(t *testing.T, err error, code, field string) {
	t.Helper()
	if got := ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
	if field != "" {
		var e *Error
		if !asError(err, &e) || e.Field != field {
			t.Fatalf("error %v names field %q, want %q", err, e.Field, field)
		}
	}
}

// check fails unless a decision refused with code (naming field, if
// given) or, with code "", returned want.
func check[T any](t *testing.T, got T, err error, code, field string, want T) {
	t.Helper()
	if code != "" {
		wantCode(t, err, code, field)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decision (-want +got):\n%s", diff)
	}
}

func asError(err error, e **Error) bool {
	x, ok := err.(*Error)
	*e = x
	return ok
}

func validRequest() AppealRequest {
	return AppealRequest{Resident: "r_1", FactKeys: []string{"cdc:2", "cdc:1", "cdc:2"}, Statement: "I was not there"}
}

func TestPrepareAppeal(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name   string
		actor  Actor
		edit   func(*AppealRequest)
		code   string
		field  string
		substr string
	}{
		{name: "the resident", actor: self},
		{name: "a community worker covering the home", actor: worker},
		{name: "the public", actor: Actor{}, code: EUNAUTH},
		{name: "another resident", actor: neighbour, code: EFORBIDDEN},
		{name: "a worker of another community", actor: farWorker, code: EFORBIDDEN},
		{name: "a command officer (decides, does not file)", actor: command, code: EFORBIDDEN},
		{name: "a flow tracer", actor: tracer, code: EFORBIDDEN},
		{name: "no statement", actor: self, edit: func(r *AppealRequest) { r.Statement = "  " }, code: EINVALID, field: "statement"},
		{name: "a statement too long", actor: self, edit: func(r *AppealRequest) { r.Statement = strings.Repeat("错", 4001) }, code: EINVALID, field: "statement"},
		{name: "4000 characters", actor: self, edit: func(r *AppealRequest) { r.Statement = strings.Repeat("错", 4000) }},
		{name: "no disputed fact", actor: self, edit: func(r *AppealRequest) { r.FactKeys = nil }, code: EINVALID, field: "fact_keys"},
		{name: "too many disputed facts", actor: self, edit: func(r *AppealRequest) { r.FactKeys = make([]string, 101) }, code: EINVALID, field: "fact_keys"},
		{name: "a fact key too long", actor: self, edit: func(r *AppealRequest) { r.FactKeys = []string{"cdc:1", long(257)} }, code: EINVALID, field: "fact_keys[1]"},
		{name: "a consent reference too long", actor: worker, edit: func(r *AppealRequest) { r.ConsentRef = long(257) }, code: EINVALID, field: "consent_ref"},
		{name: "too many attachments", actor: self, edit: func(r *AppealRequest) { r.Attachments = make([]Attachment, MaxAttachments+1) }, code: EINVALID, field: "attachments"},
		{name: "an empty attachment", actor: self, edit: func(r *AppealRequest) { r.Attachments = []Attachment{{Name: "a.jpg"}} }, code: EINVALID, field: "attachments[0].data"},
		{name: "an attachment too large", actor: self, edit: func(r *AppealRequest) {
			r.Attachments = []Attachment{{Name: "a.jpg", Data: make([]byte, MaxAttachmentSize+1)}}
		}, code: EINVALID, field: "attachments[0].data"},
		{name: "an attachment without a name", actor: self, edit: func(r *AppealRequest) { r.Attachments = []Attachment{{Data: []byte("x")}} }, code: EINVALID, field: "attachments[0].name"},
		{name: "an attachment's media type not one", actor: self, edit: func(r *AppealRequest) {
			r.Attachments = []Attachment{{Name: "a", MediaType: "jpeg", Data: []byte("x")}}
		}, code: EINVALID, field: "attachments[0].media_type", substr: "image/jpeg"},
		{name: "an attachment's media type too long", actor: self, edit: func(r *AppealRequest) {
			r.Attachments = []Attachment{{Name: "a", MediaType: "image/" + long(250), Data: []byte("x")}}
		}, code: EINVALID, field: "attachments[0].media_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := validRequest()
			if tt.edit != nil {
				tt.edit(&req)
			}
			_, err := PrepareAppeal(tt.actor, resident, req)
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, tt.code, tt.field)
			if !strings.Contains(err.Error(), tt.substr) {
				t.Errorf("error %q does not say %q", err, tt.substr)
			}
		})
	}
}

func TestPrepareAppealNormalises(t *testing.T) {
	req := validRequest()
	req.Attachments = []Attachment{{Name: "test.pdf", Data: []byte("abc")}, {Name: "x.jpg", MediaType: "image/jpeg", Data: []byte("d")}}
	got, err := PrepareAppeal(self, resident, req)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"cdc:1", "cdc:2"}; !cmp.Equal(got.FactKeys, want) {
		t.Errorf("fact keys %v, want %v (sorted, each once)", got.FactKeys, want)
	}
	want := []Attachment{
		{Name: "test.pdf", MediaType: "application/octet-stream", SHA256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Size: 3, Data: []byte("abc")},
		{Name: "x.jpg", MediaType: "image/jpeg", SHA256: "18ac3e7343f016890c510e93f935261169d9e3f565436429830faf0934f4f8e4", Size: 1, Data: []byte("d")},
	}
	if diff := cmp.Diff(want, got.Attachments); diff != "" {
		t.Errorf("attachments (-want +got):\n%s", diff)
	}
	if req.Attachments[0].SHA256 != "" || req.FactKeys[0] != "cdc:2" {
		t.Error("PrepareAppeal changed its argument")
	}
}

func TestDecideFiling(t *testing.T) {
	facts := map[string]DisputedFact{
		"cdc:1": {Subject: "r_1", Status: FactActive},
		"cdc:2": {Subject: "r_1", Status: FactPending},
		"cdc:3": {Subject: "r_2", Status: FactActive},
		"cdc:4": {Subject: "r_1", Status: FactRetracted},
		"cdc:5": {Subject: "r_1", Status: FactRejected},
	}
	deadline := t0.Add(day)
	tests := []struct {
		name      string
		actor     Actor
		keys      []string
		consent   string
		undecided int
		want      *AppealFiling
		code      string
	}{
		{name: "the resident's own: open at once, with its deadline", actor: self, keys: []string{"cdc:1", "cdc:2"},
			want: &AppealFiling{Status: AppealOpen, Consent: "self", Assigned: "410105", Deadline: deadline, Facts: []string{"cdc:1", "cdc:2"}}},
		{name: "a worker's: waits for the resident's consent, no deadline yet", actor: worker, keys: []string{"cdc:1"},
			want: &AppealFiling{Status: AppealAwaitingConsent, Assigned: "410105", Facts: []string{"cdc:1"}}},
		{name: "a worker's citing a recorded consent: open", actor: worker, keys: []string{"cdc:1"}, consent: "paper form 17",
			want: &AppealFiling{Status: AppealOpen, Consent: "ref:paper form 17", Assigned: "410105", Deadline: deadline, Facts: []string{"cdc:1"}}},
		{name: "four undecided: a fifth is filed", actor: self, keys: []string{"cdc:1"}, undecided: MaxOpenAppeals - 1,
			want: &AppealFiling{Status: AppealOpen, Consent: "self", Assigned: "410105", Deadline: deadline, Facts: []string{"cdc:1"}}},
		{name: "five undecided", actor: self, keys: []string{"cdc:1"}, undecided: MaxOpenAppeals, code: ECONFLICT},
		{name: "no such fact", actor: self, keys: []string{"cdc:1", "cdc:9"}, code: EINVALID},
		{name: "another resident's fact", actor: self, keys: []string{"cdc:3"}, code: EINVALID},
		{name: "a retracted fact", actor: self, keys: []string{"cdc:4"}, code: EINVALID},
		{name: "a rejected fact", actor: self, keys: []string{"cdc:5"}, code: EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := AppealRequest{Resident: "r_1", FactKeys: tt.keys, Statement: "wrong", ConsentRef: tt.consent}
			got, err := DecideFiling(tt.actor, resident, req, FilingState{Undecided: tt.undecided, Facts: facts}, day, t0)
			check(t, got, err, tt.code, "", tt.want)
		})
	}
}

func TestCountyOf(t *testing.T) {
	for home, want := range map[string]string{
		"410105001001": "410105", // a community: its county
		"410105001":    "410105", // a street
		"410105":       "410105", // a county itself
		"410100":       "410100", // a city: above county level, itself
		"410000":       "410000", // the province
		"419001":       "419001", // a county-level city directly under the province
	} {
		if got := CountyOf(home); got != want {
			t.Errorf("CountyOf(%s) = %s, want %s", home, got, want)
		}
	}
}

func step(kind, by string) AppealStep {
	return AppealStep{Kind: kind, By: Party{Kind: ActorOfficial, ID: by}}
}

func TestDecideConsent(t *testing.T) {
	awaiting := &Appeal{ID: "ap_1", Resident: "r_1", Status: AppealAwaitingConsent, Assigned: "410105",
		Steps: []AppealStep{step(AppealStepFiled, "o_worker")}}
	consented := &Appeal{ID: "ap_1", Resident: "r_1", Status: AppealOpen, Assigned: "410105",
		Steps: []AppealStep{step(AppealStepFiled, "o_worker"), step(AppealStepConsented, "r_1")}}
	ownOpen := &Appeal{ID: "ap_2", Resident: "r_1", Status: AppealOpen, Steps: []AppealStep{step(AppealStepFiled, "r_1")}}
	granted := &Appeal{ID: "ap_1", Resident: "r_1", Status: AppealGranted,
		Steps: []AppealStep{step(AppealStepFiled, "o_worker"), step(AppealStepDecided, "o_cmd")}}
	tests := []struct {
		name   string
		actor  Actor
		appeal *Appeal
		want   *time.Time
		code   string
	}{
		{name: "the resident consents: the deadline starts", actor: self, appeal: awaiting, want: new(t0.Add(day))},
		{name: "a retry of the consent: nothing to record", actor: self, appeal: consented},
		{name: "the public", actor: Actor{}, appeal: awaiting, code: EUNAUTH},
		{name: "another resident", actor: neighbour, appeal: awaiting, code: EFORBIDDEN},
		{name: "the worker who filed it", actor: worker, appeal: awaiting, code: EFORBIDDEN},
		{name: "a command officer", actor: command, appeal: awaiting, code: EFORBIDDEN},
		{name: "the resident's own appeal, open from the start", actor: self, appeal: ownOpen, code: ECONFLICT},
		{name: "a decided appeal", actor: self, appeal: granted, code: ECONFLICT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecideConsent(tt.actor, tt.appeal, day, t0)
			check(t, got, err, tt.code, "", tt.want)
		})
	}
}

func TestDecideAppeal(t *testing.T) {
	open := &Appeal{ID: "ap_1", Resident: "r_1", Status: AppealOpen, Assigned: "410105", FactKeys: []string{"cdc:1", "cdc:2", "cdc:3"},
		Steps: []AppealStep{step(AppealStepFiled, "r_1")}}
	escalated := &Appeal{ID: "ap_1", Resident: "r_1", Status: AppealOpen, Assigned: "410100", FactKeys: []string{"cdc:1"},
		Steps: []AppealStep{step(AppealStepFiled, "r_1"), step(AppealStepEscalated, "scheduler")}}
	grantedBy := func(by, reason string) *Appeal {
		a := *open
		a.Status, a.Reason = AppealGranted, reason
		a.Steps = append(a.Steps, step(AppealStepDecided, by))
		return &a
	}
	deniedBy := *grantedBy("o_cmd", "no evidence of error")
	deniedBy.Status = AppealDenied
	awaiting := *open
	awaiting.Status = AppealAwaitingConsent
	facts := map[string]DisputedFact{
		"cdc:1": {Subject: "r_1", Status: FactActive},                                               // a source's
		"cdc:2": {Subject: "r_1", Status: FactPending, RecordedBy: "o_tracer"},                      // hand-entered, waiting
		"cdc:3": {Subject: "r_1", Status: FactRetracted, RecordedBy: "o_tracer", ApprovedBy: "o_x"}, // withdrawn meanwhile
	}
	tests := []struct {
		name   string
		actor  Actor
		appeal *Appeal
		facts  map[string]DisputedFact
		grant  bool
		reason string
		want   *AppealDecision
		code   string
		field  string
	}{
		{name: "granted: retracts the facts still counting", actor: command, appeal: open, grant: true,
			want: &AppealDecision{Decision: AppealGranted, Facts: open.FactKeys, Retract: []string{"cdc:1", "cdc:2"}}},
		{name: "denied with a reason: retracts nothing", actor: command, appeal: open, reason: "no evidence of error",
			want: &AppealDecision{Decision: AppealDenied, Facts: open.FactKeys, Reason: "no evidence of error"}},
		{name: "by the city's command, above the county", actor: command2, appeal: open, grant: true,
			want: &AppealDecision{Decision: AppealGranted, Facts: open.FactKeys, Retract: []string{"cdc:1", "cdc:2"}}},
		{name: "escalated to the city: the city decides", actor: command2, appeal: escalated, grant: true,
			want: &AppealDecision{Decision: AppealGranted, Facts: []string{"cdc:1"}, Retract: []string{"cdc:1"}}},
		{name: "escalated to the city: no longer the county", actor: command, appeal: escalated, grant: true, code: EFORBIDDEN},
		{name: "a denial without a reason", actor: command, appeal: open, reason: " no ", code: EINVALID, field: "reason"},
		{name: "a reason too long", actor: command, appeal: open, grant: true, reason: strings.Repeat("x", MaxReasonBytes+1), code: EINVALID, field: "reason"},
		{name: "the public", actor: Actor{}, appeal: open, grant: true, code: EUNAUTH},
		{name: "the resident", actor: self, appeal: open, grant: true, code: EFORBIDDEN},
		{name: "a community worker", actor: worker, appeal: open, grant: true, code: EFORBIDDEN},
		{name: "a command officer of another county", actor: farCmd, appeal: open, grant: true, code: EFORBIDDEN},
		{name: "awaiting the resident's consent", actor: command, appeal: &awaiting, grant: true, code: ECONFLICT},
		{name: "a retry of the grant: nothing to record", actor: command, appeal: grantedBy("o_cmd", ""), grant: true},
		{name: "a retry of the denial: nothing to record", actor: command, appeal: &deniedBy, reason: "no evidence of error"},
		{name: "granted, then denied", actor: command, appeal: grantedBy("o_cmd", ""), reason: "no evidence of error", code: ECONFLICT},
		{name: "denied, then granted", actor: command, appeal: &deniedBy, grant: true, reason: "no evidence of error", code: ECONFLICT},
		{name: "granted by another officer", actor: command, appeal: grantedBy("o_cmd2", ""), grant: true, code: ECONFLICT},
		{name: "denied with another reason", actor: command, appeal: &deniedBy, reason: "another reason", code: ECONFLICT},
		{name: "two people: the recorder of a disputed fact", actor: Actor{Kind: ActorOfficial, ID: "o_tracer", Role: RoleCommand, Jurisdiction: "410105"},
			appeal: open, grant: true, code: EFORBIDDEN},
		{name: "two people: the approver of a disputed fact", actor: Actor{Kind: ActorOfficial, ID: "o_x", Role: RoleCommand, Jurisdiction: "410000"},
			appeal: open, reason: "the test was right", code: EFORBIDDEN},
		{name: "a disputed fact not read", actor: command, appeal: open, grant: true, facts: map[string]DisputedFact{"cdc:1": facts["cdc:1"]}, code: EINTERNAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := tt.facts
			if fs == nil {
				fs = facts
			}
			got, err := DecideAppeal(tt.actor, tt.appeal, fs, tt.grant, tt.reason)
			check(t, got, err, tt.code, tt.field, tt.want)
		})
	}
}

func TestDecideEscalation(t *testing.T) {
	at := func(d time.Time) *time.Time { return &d }
	tests := []struct {
		name string
		a    Appeal
		want *AppealEscalation
	}{
		{name: "before its deadline", a: Appeal{Status: AppealOpen, Assigned: "410105", Deadline: at(t0.Add(time.Millisecond))}},
		{name: "at its deadline: to the city", a: Appeal{Status: AppealOpen, Assigned: "410105", Deadline: at(t0)},
			want: &AppealEscalation{From: "410105", To: "410100", Missed: t0, Deadline: t0.Add(day)}},
		{name: "past it, at the city: to the province", a: Appeal{Status: AppealOpen, Assigned: "410100", Deadline: at(t0.Add(-day))},
			want: &AppealEscalation{From: "410100", To: "410000", Missed: t0.Add(-day), Deadline: t0.Add(day)}},
		{name: "at the province: stays there, with a new deadline", a: Appeal{Status: AppealOpen, Assigned: "410000", Deadline: at(t0.Add(-day))},
			want: &AppealEscalation{From: "410000", To: "410000", Missed: t0.Add(-day), Deadline: t0.Add(day)}},
		{name: "awaiting consent: no deadline runs", a: Appeal{Status: AppealAwaitingConsent, Assigned: "410105"}},
		{name: "decided after its deadline", a: Appeal{Status: AppealGranted, Assigned: "410105", Deadline: at(t0.Add(-day))}},
		{name: "denied after its deadline", a: Appeal{Status: AppealDenied, Assigned: "410105", Deadline: at(t0.Add(-day))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DecideEscalation(&tt.a, day, t0)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("escalation (-want +got):\n%s", diff)
			}
			if AppealOverdue(&tt.a, t0) != (tt.want != nil) {
				t.Errorf("AppealOverdue = %v, want %v", !(tt.want != nil), tt.want != nil)
			}
		})
	}
}
