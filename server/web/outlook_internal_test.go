package web

import (
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/store"
)

// addOutlookSamples adds resident pages with each kind of outlook: a
// change at a time (with a rule that ends and one that does not), a lower
// bound, and none.
func addOutlookSamples(s map[string][]any, at time.Time, res *healthcode.Resident, red *store.Explanation) {
	later := at.Add(7 * 24 * time.Hour)
	hold := []healthcode.HoldingRule{
		{Rule: "close-contact", Colour: healthcode.Red, Reason: map[string]string{"zh-CN": "密切接触者", "en": "Close contact"}, Until: &later},
		{Rule: "case", Colour: healthcode.Red, Reason: map[string]string{"zh-CN": "确诊", "en": "Case"}},
	}
	for _, o := range []*healthcode.Outlook{
		{ChangeAt: &later, Next: healthcode.Yellow, Holding: hold},
		{ChangeAt: &later, NotBefore: true, Holding: hold},
		{Holding: hold},
	} {
		ex := *red
		ex.Outlook = o
		s["resident"] = append(s["resident"], residentData{Resident: res, Code: &ex, Own: true, CanAppeal: true, Hotline: DefaultHotline},
			residentData{Resident: res, Code: &ex, Worker: true, CanAppeal: true, Hotline: "0371-12345", Office: "金水区疫情防控指挥部"})
	}
}

// addRulesetSamples adds the ruleset pages: the list, a draft with a diff
// that its viewer may decide, the version in force, one that does not
// compile; and the editor with a diff.
func addRulesetSamples(s map[string][]any, at time.Time) {
	v1 := &healthcode.RulesetInfo{ID: "henan-health-code", Version: 1, Scope: "410000", Status: healthcode.RulesetPublished, Source: string(rules.DefaultSource()),
		LegalNumber: "71号", LegalTitle: "t", EffectiveAt: at, DraftedBy: "o_1", DraftedAt: at, DecidedBy: "o_2", DecidedAt: at, LogIndex: 3, DecidedLog: 4}
	v2 := *v1
	v2.Version, v2.Status, v2.DecidedLog = 2, healthcode.RulesetDraft, -1
	v2.Source = nextVersion(v1.Source, 1)
	diff := hunks(lineDiff(v1.Source, v2.Source))
	refused := v2
	refused.Version, refused.Status, refused.Source, refused.Reason, refused.DecidedLog = 3, healthcode.RulesetRefused, "id: x\n", "不符合方案", 9
	s["rulesets"] = append(s["rulesets"], rulesetsData{}, rulesetsData{List: []*healthcode.RulesetInfo{&v2, v1}, InForce: v1, Province: "410000"})
	rs := rules.Default()
	s["ruleset"] = append(s["ruleset"],
		rulesetData{Info: &v2, Rules: rs.Rules(), Lines: []diffLine{{Op: ' ', New: 1, Text: "id: x"}}, Base: v1, Diff: diff, CanDecide: true, Drafter: "赵六",
			Impact: &impactView{Residents: 30, Changed: 12, Failed: 1, Rows: []impactRow{{County: "410105", Name: "金水区", From: healthcode.Green, To: healthcode.Red, N: 11}}}},
		rulesetData{Info: &v2, CanDecide: true, Impact: &impactView{Residents: 30, Changed: 2}},
		rulesetData{Info: &v2, CanDecide: true, ImpactErr: true},
		rulesetData{Info: v1, Rules: rs.Rules(), InForce: true},
		rulesetData{Info: &refused, Base: v1, Diff: nil},
		rulesetData{Info: &refused})
	s["ruleset_draft"] = append(s["ruleset_draft"],
		rulesetDraftData{Name: "x.yaml", Source: v2.Source, Base: v1},
		rulesetDraftData{Name: "x.yaml", Source: v2.Source, Checked: true, Rules: rs.Rules(), Base: v1, Diff: diff},
		rulesetDraftData{Name: "x.yaml", Source: v1.Source, Checked: true, Rules: rs.Rules(), Base: v1})
}
