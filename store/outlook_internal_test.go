package store

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
)

// TestOutlookLaterRuleset: a published ruleset that takes effect before
// the code would change under the one in force decides the outlook from
// then on.
func TestOutlookLaterRuleset(t *testing.T) {
	now := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	sampled := now.Add(-2 * time.Hour)
	v1 := rules.Default()
	// v2 keeps a positive PCR red for 3 days, not 14.
	src := string(rules.DefaultSource())
	src = strings.Replace(src, "version: 1", "version: 2", 1)
	src = strings.Replace(src, "effective_at: 2022-06-28T00:00:00+08:00", "effective_at: "+now.Add(5*24*time.Hour).Format(time.RFC3339), 1)
	src = strings.Replace(src, "now - t.sampled_at < duration('336h'))", "now - t.sampled_at < duration('72h'))", 1)
	short := strings.Replace(src, now.Add(5*24*time.Hour).Format(time.RFC3339), now.Add(24*time.Hour).Format(time.RFC3339), 1)
	payload, _ := json.Marshal(map[string]string{"method": "pcr", "result": "positive", "sampled_at": sampled.Format(time.RFC3339), "lab": "lab"})
	in := rules.Input{Now: now, Facts: []healthcode.Fact{{ID: "t1", Key: "s/t1", Kind: rules.KindTestResult, Subject: "r_1",
		ObservedAt: sampled, Payload: payload, Status: healthcode.FactActive}}}
	for _, tt := range []struct {
		name   string
		v2     string
		change time.Time
	}{
		{"v2 changes the colour as it takes effect", src, now.Add(5 * 24 * time.Hour)},
		{"v2 takes effect while the test still counts", short, sampled.Add(72 * time.Hour)},
		{"none later", "", sampled.Add(14 * 24 * time.Hour)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			list := []*rules.Ruleset{v1}
			if tt.v2 != "" {
				v2, err := rules.Parse("v2.yaml", []byte(tt.v2))
				if err != nil {
					t.Fatal(err)
				}
				list = append(list, v2)
			}
			slices.SortStableFunc(list, rulesetOrder)
			o, err := outlookOf(list, "410105001001", in)
			if err != nil {
				t.Fatal(err)
			}
			if o.ChangeAt == nil || !o.ChangeAt.Equal(tt.change) || o.Next != healthcode.Green {
				t.Fatalf("outlook %+v, want green at %v", o, tt.change)
			}
			if len(o.Holding) != 1 || o.Holding[0].Rule != "positive-pcr" {
				t.Errorf("holding %+v", o.Holding)
			}
		})
	}
}
