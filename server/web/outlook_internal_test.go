package web

import (
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
)

// addOutlookSamples adds resident pages with each kind of outlook: a
// change at a time (with a rule that ends and one that does not), a lower
// bound, and none.
func addOutlookSamples(s map[string][]any, at time.Time, res *healthcode.Resident, red *store.Explanation) {
	later := at.Add(7 * 24 * time.Hour)
	hold := []store.HoldingRule{
		{Rule: "close-contact", Colour: healthcode.Red, Reason: map[string]string{"zh-CN": "密切接触者", "en": "Close contact"}, Until: &later},
		{Rule: "case", Colour: healthcode.Red, Reason: map[string]string{"zh-CN": "确诊", "en": "Case"}},
	}
	for _, o := range []*store.Outlook{
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
