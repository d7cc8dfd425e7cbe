package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/demo"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/store"
)

// seedDemoStory publishes the default ruleset (drafted by one provincial
// command officer, approved by another) and records a small outbreak, so
// the demo shows every colour and every step of accountability: a lab's
// positive PCR, a confirmed case entered by hand and approved by a second
// officer, close and secondary contacts traced back to it, one contact still
// waiting for approval, and the yellow-code resident's appeal open. The
// demo residents with logins get a green, a red, a yellow and a pending
// code. Times are relative to now, so the codes are current whenever the
// demo is seeded. It does nothing on a database that already has a ruleset.
func seedDemoStory(ctx context.Context, log *slog.Logger, st *store.DB, p *demo.Province) error {
	list, err := st.Rulesets(ctx)
	if err != nil || len(list) > 0 {
		return err
	}
	province := p.Jurisdictions[0].Code
	cmd := officialsOf(p, healthcode.RoleCommand, province)
	if len(cmd) < 2 {
		return fmt.Errorf("the demo province needs two provincial command officers")
	}
	if _, err := st.DraftRuleset(actorOf(ctx, cmd[0]), rules.DefaultName, rules.DefaultSource()); err != nil {
		return err
	}
	if _, err := st.DecideRuleset(actorOf(ctx, cmd[1]), "henan-health-code", 1, true, ""); err != nil {
		return err
	}

	res := func(i int) healthcode.Resident {
		r, _ := p.Resident(i, nil)
		return r
	}
	logins := p.ResidentLogins
	if len(logins) < 5 || p.Residents() < 200 {
		_, err := st.RunJobs(ctx, nil)
		return err // too small a province for the story
	}
	patient, red, yellow, pending := res(logins[4].ResidentIndex), res(logins[1].ResidentIndex), res(logins[2].ResidentIndex), res(logins[3].ResidentIndex)
	now := time.Now().UTC().Truncate(time.Second)
	day := now.Add(-26 * time.Hour)

	// 1. Routine negative PCRs for the first 200 residents, and the patient's
	// positive one, each from the PCR lab of the resident's city (a source
	// records only inside the jurisdiction it is registered for).
	tests := map[string][]healthcode.Fact{}
	for i := 0; i < 200; i++ {
		r := res(i)
		result := "negative"
		if r.ID == patient.ID {
			result = "positive"
		}
		lab := cityLab(p, r.Jurisdiction)
		tests[lab.ID] = append(tests[lab.ID], fact(fmt.Sprintf("pcr-%06d", i), "test_result", r.ID, day, "实验室报告 "+fmt.Sprint(100000+i),
			map[string]any{"method": "pcr", "result": result, "sampled_at": day, "lab": lab.Name}))
	}
	for _, lab := range p.Sources {
		if len(tests[lab.ID]) == 0 {
			continue
		}
		srcCtx := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSource, ID: lab.ID, Name: lab.Name, Jurisdiction: lab.Jurisdiction})
		if _, err := st.RecordFacts(srcCtx, tests[lab.ID]); err != nil {
			return err
		}
	}

	// 2. A provincial command officer enters the confirmed case; a second approves it.
	caseID := "ZY-2022-0613-001"
	caseFact := fact("case-001", "case_status", patient.ID, day.Add(4*time.Hour), "流调报告 2022-0613-001",
		map[string]any{"status": "confirmed", "case_id": caseID})
	if err := enterAndApprove(ctx, st, cmd[0], cmd[1], caseFact); err != nil {
		return err
	}

	// 3. Flow tracers enter contacts; command officers of the resident's city approve.
	contacts := []struct {
		r       healthcode.Resident
		level   string
		approve bool
	}{{red, "close", true}, {yellow, "secondary", true}, {pending, "close", false}}
	for i, c := range contacts {
		tracer := coveringOfficial(p, healthcode.RoleTracer, c.r.Jurisdiction)
		approver := coveringOfficial(p, healthcode.RoleCommand, c.r.Jurisdiction)
		f := fact(fmt.Sprintf("contact-%03d", i+1), "contact", c.r.ID, day.Add(6*time.Hour), "流调报告 2022-0613-001 附表",
			map[string]any{"level": c.level, "case_id": caseID, "exposed_at": day.Add(-2 * time.Hour)})
		if !c.approve {
			approver = demo.Official{}
		}
		if err := enterAndApprove(ctx, st, tracer, approver, f); err != nil {
			return err
		}
	}

	// 4. The yellow-code resident appeals the designation; the appeal waits
	// for a command officer of their county (or escalates in 24 hours).
	yTracer := coveringOfficial(p, healthcode.RoleTracer, yellow.Jurisdiction)
	self := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorResident, ID: yellow.ID, Name: yellow.Name, Role: healthcode.RoleResident, Jurisdiction: yellow.Jurisdiction})
	if _, err := st.FileAppeal(self, healthcode.AppealRequest{Resident: yellow.ID, FactKeys: []string{healthcode.FactKey(yTracer.ID, "contact-002")},
		Statement: "那天我在外地出差，没有和病例同时出现在那里。"}); err != nil {
		return fmt.Errorf("the demo appeal: %w", err)
	}
	_, err = st.RunJobs(ctx, nil)
	log.Info("demo story seeded: ruleset published, a confirmed case, contacts traced (one awaiting approval), one appeal open")
	return err
}

// cityLab is the PCR laboratory of the city that covers jurisdiction.
func cityLab(p *demo.Province, jurisdiction string) demo.Source {
	for _, s := range p.Sources {
		if l, _ := healthcode.LevelOf(s.Jurisdiction); l == healthcode.City && healthcode.Covers(s.Jurisdiction, jurisdiction) {
			return s
		}
	}
	return p.Sources[0]
}

func fact(id, kind, subject string, observed time.Time, evidence string, payload map[string]any) healthcode.Fact {
	b, _ := json.Marshal(payload)
	return healthcode.Fact{ID: id, Kind: kind, Subject: subject, ObservedAt: observed, Evidence: evidence, Payload: b}
}

// enterAndApprove has one official enter a fact and, if approver is set and
// the fact is pending, a second approve it.
func enterAndApprove(ctx context.Context, st *store.DB, recorder, approver demo.Official, f healthcode.Fact) error {
	res, err := st.RecordFacts(actorOf(ctx, recorder), []healthcode.Fact{f})
	if err != nil {
		return fmt.Errorf("%s enters %s: %w", recorder.Login, f.ID, err)
	}
	if approver.ID == "" || res.Facts[0].Status != string(healthcode.FactPending) {
		return nil
	}
	if _, err := st.DecideFact(actorOf(ctx, approver), res.Facts[0].Key, true, ""); err != nil {
		return fmt.Errorf("%s approves %s: %w", approver.Login, f.ID, err)
	}
	return nil
}

func actorOf(ctx context.Context, o demo.Official) context.Context {
	return healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorOfficial, ID: o.ID, Name: o.Name, Role: o.Role, Jurisdiction: o.Jurisdiction})
}

func officialsOf(p *demo.Province, role healthcode.Role, post string) []demo.Official {
	var out []demo.Official
	for _, o := range p.Officials {
		if o.Role == role && o.Jurisdiction == post {
			out = append(out, o)
		}
	}
	return out
}

// coveringOfficial returns the official of a role whose post is nearest
// above (or at) code.
func coveringOfficial(p *demo.Province, role healthcode.Role, code string) demo.Official {
	for _, a := range healthcode.Ancestors(code) {
		if os := officialsOf(p, role, a); len(os) > 0 {
			return os[0]
		}
	}
	return demo.Official{}
}
