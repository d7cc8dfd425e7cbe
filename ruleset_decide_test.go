package healthcode

import (
	"strings"
	"testing"
	"time"
)

// The ruleset workflow's decisions, without a database: who drafts, the
// scope and the version, and the two people who publish or refuse.

func TestCheckRulesetDraft(t *testing.T) {
	tests := []struct {
		name  string
		actor Actor
		rname string
		size  int
		code  string
		field string
	}{
		{"a command officer", command, "province rules", MaxRulesetSource, "", ""},
		{"the public", Actor{}, "r", 1, EUNAUTH, ""},
		{"a tracer", tracer, "r", 1, EFORBIDDEN, ""},
		{"a resident", self, "r", 1, EFORBIDDEN, ""},
		{"too large", command, "r", MaxRulesetSource + 1, EINVALID, ""},
		{"a long name", command, strings.Repeat("x", MaxNameBytes+1), 1, EINVALID, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRulesetDraft(tt.actor, tt.rname, tt.size)
			wantErr(t, err, tt.code, tt.field)
		})
	}
}

func TestDecideRulesetScope(t *testing.T) {
	province := Actor{Kind: ActorOfficial, ID: "o_prov", Role: RoleCommand, Jurisdiction: "410000"}
	tests := []struct {
		name     string
		actor    Actor
		scope    string
		anyLevel bool
		code     string
		field    string
	}{
		{"the province's command", province, "410000", false, "", ""},
		{"another province", province, "420000", false, EFORBIDDEN, ""},
		{"a county's command, for the province", command, "410000", false, EFORBIDDEN, ""},
		{"scoped to a county", command, "410105", false, EINVALID, "scope"},
		{"scoped to a county, before 一省一码", command, "410105", true, "", ""},
		{"a tracer", Actor{Kind: ActorOfficial, ID: "o_t", Role: RoleTracer, Jurisdiction: "410000"}, "410000", false, EFORBIDDEN, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := DecideRulesetScope(tt.actor, tt.scope, tt.anyLevel)
			wantErr(t, err, tt.code, tt.field)
		})
	}
}

func TestDecideRulesetVersion(t *testing.T) {
	tests := []struct {
		version int
		latest  int64
		stored  bool
		code    string
	}{
		{1, 0, false, ""},
		{3, 2, true, ""},
		{2, 2, true, ECONFLICT},
		{1, 2, true, ECONFLICT},
	}
	for _, tt := range tests {
		err := DecideRulesetVersion("henan", tt.version, tt.latest, tt.stored)
		if tt.code == "" && err != nil {
			t.Errorf("version %d after %d: %v", tt.version, tt.latest, err)
		}
		if tt.code != "" {
			wantCode(t, err, tt.code, "")
		}
	}
}

func TestCheckRulesetDecision(t *testing.T) {
	tests := []struct {
		approve bool
		reason  string
		code    string
	}{
		{true, "", ""},
		{false, "not legal", ""},
		{false, "no", EINVALID},
		{false, strings.Repeat("x", MaxReasonBytes+1), EINVALID},
	}
	for _, tt := range tests {
		err := CheckRulesetDecision(tt.approve, tt.reason)
		if tt.code == "" && err != nil {
			t.Errorf("approve %v, reason %q: %v", tt.approve, tt.reason, err)
		}
		if tt.code != "" {
			wantCode(t, err, tt.code, "reason")
		}
	}
}

func TestDecideRuleset(t *testing.T) {
	draft := func(edit func(*RulesetInfo)) *RulesetInfo {
		info := &RulesetInfo{ID: "henan", Version: 2, Scope: "410105", Status: RulesetDraft, DraftedBy: "o_drafter"}
		if edit != nil {
			edit(info)
		}
		return info
	}
	decided := func(status, by, reason string) *RulesetInfo {
		return draft(func(i *RulesetInfo) { i.Status, i.DecidedBy, i.Reason = status, by, reason })
	}
	tests := []struct {
		name    string
		actor   Actor
		info    *RulesetInfo
		approve bool
		reason  string
		code    string
		want    *RulesetDecision
	}{
		{name: "published", actor: command, info: draft(nil), approve: true, want: &RulesetDecision{Status: RulesetPublished}},
		{name: "refused", actor: command, info: draft(nil), reason: "no legal basis", want: &RulesetDecision{Status: RulesetRefused}},
		{name: "published from above", actor: command2, info: draft(nil), approve: true, want: &RulesetDecision{Status: RulesetPublished}},
		{name: "the drafter", actor: command, info: draft(func(i *RulesetInfo) { i.DraftedBy = command.ID }), approve: true, code: EFORBIDDEN},
		{name: "the drafter refusing", actor: command, info: draft(func(i *RulesetInfo) { i.DraftedBy = command.ID }), reason: "changed my mind", code: EFORBIDDEN},
		{name: "outside the scope", actor: farCmd, info: draft(nil), approve: true, code: EFORBIDDEN},
		{name: "a tracer", actor: tracer, info: draft(nil), approve: true, code: EFORBIDDEN},
		{name: "the public", actor: Actor{}, info: draft(nil), approve: true, code: EUNAUTH},
		{name: "published already", actor: command, info: decided(RulesetPublished, command2.ID, ""), approve: true, code: ECONFLICT},
		{name: "refused already", actor: command, info: decided(RulesetRefused, command.ID, "no legal basis"), approve: true, code: ECONFLICT},
		{name: "withdrawn", actor: command, info: decided(RulesetWithdrawn, "", ""), approve: true, code: ECONFLICT},
		{name: "a retry of the publication", actor: command, info: decided(RulesetPublished, command.ID, ""), approve: true},
		{name: "a retry of the refusal", actor: command, info: decided(RulesetRefused, command.ID, "no legal basis"), reason: "no legal basis"},
		{name: "a refusal with another reason", actor: command, info: decided(RulesetRefused, command.ID, "no legal basis"), reason: "other reason", code: ECONFLICT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecideRuleset(tt.actor, tt.info, tt.approve, tt.reason)
			check(t, got, err, tt.code, "", tt.want)
		})
	}
}

func TestRulesetRunAt(t *testing.T) {
	if got := RulesetRunAt(t0.Add(day), t0); !got.Equal(t0.Add(day)) {
		t.Errorf("a ruleset effective tomorrow runs at %v", got)
	}
	if got := RulesetRunAt(t0.Add(-time.Hour), t0); !got.Equal(t0) {
		t.Errorf("a ruleset effective an hour ago runs at %v, not now", got)
	}
}
