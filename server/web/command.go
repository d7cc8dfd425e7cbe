package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
)

type commandData struct {
	Jurisdiction string
	// Codes are the codes by colour in the officer's jurisdiction, and
	// Changes its code changes per day by cause, recent days first: exact
	// counts (store.DeskCounts), not the public statistics' suppressed ones.
	Codes   []colourCount
	Changes []dayCauses
	Facts   []*healthcode.Fact
	Drafts  []*healthcode.RulesetInfo
	Appeals []*healthcode.Appeal
	// Holds are the designations held for residents restored by an
	// appeal that the officer's command decides (the first page).
	Holds     []store.DesignationHold
	HoldsMore bool
	// The pages of Facts and Appeals shown (from 1; "facts" and
	// "appeals" in the query) and whether each has a next page.
	FactsPage, AppealsPage int
	FactsMore, AppealsMore bool
	// Names are the names of the officials who recorded the facts and
	// drafted the rulesets shown, by id.
	Names map[string]string
	// Impacts are the dry runs of the pending designations the officer
	// may approve, by fact key; ImpactFailed those whose dry run failed
	// (the officer decides without it).
	Impacts      map[string]*impactView
	ImpactFailed map[string]bool
}

type colourCount struct {
	Colour healthcode.Colour
	N      int64
}

type dayCauses struct {
	Day    string
	Causes []causeCount
}

type causeCount struct {
	Cause string
	N     int64
}

// decideArgs lets the "decide" partial see the page (for T and CSRF) and
// a decision's form: where it posts, the refusal reason's input id, and
// the catalogue keys of the two buttons.
type decideArgs struct {
	Page                              *page
	Action, RefuseID, Approve, Refuse string
}

// DecideOf passes a two-way decision's form to the "decide" partial.
func (pg *page) DecideOf(action, refuseID, approve, refuse string) decideArgs {
	return decideArgs{Page: pg, Action: action, RefuseID: refuseID, Approve: approve, Refuse: refuse}
}

// recentDays is how many days of code changes the command page shows.
const recentDays = 7

// Command is a command officer's desk: their jurisdiction at a glance
// (exact counts: the officer may read these residents), the hand-entered facts and ruleset drafts waiting for
// their approval, and the appeals queue, soonest deadline first. The store
// decides who sees what and logs the residents shown.
func (p *Pages) Command(w http.ResponseWriter, r *http.Request) {
	if !p.mustLogIn(w, r) {
		return
	}
	ctx := r.Context()
	actor := healthcode.ActorFrom(ctx)
	if actor.Kind != healthcode.ActorOfficial || actor.Role != healthcode.RoleCommand {
		p.error(w, r, healthcode.Errorf(healthcode.EFORBIDDEN, "command officers only"))
		return
	}
	d := commandData{Jurisdiction: actor.Jurisdiction}
	var err error
	if d.FactsPage, err = pageNamed(r, "facts"); err == nil {
		d.AppealsPage, err = pageNamed(r, "appeals")
	}
	if err != nil {
		p.error(w, r, err)
		return
	}
	if d.Facts, d.FactsMore, err = p.db.PendingFacts(ctx, d.FactsPage); err != nil {
		p.error(w, r, err)
		return
	}
	if d.Appeals, d.AppealsMore, err = p.db.AppealQueue(ctx, healthcode.AppealOpen, d.AppealsPage); err != nil {
		p.error(w, r, err)
		return
	}
	if d.Holds, d.HoldsMore, err = p.db.HeldDesignations(ctx, 1); err != nil {
		p.error(w, r, err)
		return
	}
	all, err := p.db.Rulesets(ctx)
	if err != nil {
		p.error(w, r, err)
		return
	}
	for _, rs := range all {
		if rs.Status == healthcode.RulesetDraft && rs.DraftedBy != actor.ID && healthcode.Covers(actor.Jurisdiction, rs.Scope) {
			d.Drafts = append(d.Drafts, rs)
		}
	}
	d.Names = map[string]string{}
	d.Impacts, d.ImpactFailed = map[string]*impactView{}, map[string]bool{}
	for _, f := range d.Facts {
		d.Names[f.RecordedBy] = ""
		// A designation's approver sees what it would do before deciding
		// (store.DesignationImpact: a dry run over the area's residents,
		// reused while the log has not grown). Its recorder may not
		// approve it, nor see the dry run.
		if f.Kind != "risk_area" || f.RecordedBy == actor.ID {
			continue
		}
		imp, err := p.db.DesignationImpact(ctx, f.Key)
		switch healthcode.ErrorCode(err) {
		case "":
			if d.Impacts[f.Key], err = p.impactOf(ctx, imp); err != nil {
				p.error(w, r, err)
				return
			}
		case healthcode.EFORBIDDEN, healthcode.ECONFLICT:
		default:
			p.log.Warn("designation dry run", "fact", f.Key, "err", err)
			d.ImpactFailed[f.Key] = true
		}
	}
	for _, rs := range d.Drafts {
		d.Names[rs.DraftedBy] = ""
	}
	for id := range d.Names {
		o, err := p.db.Official(ctx, id)
		if err != nil {
			p.error(w, r, err)
			return
		}
		d.Names[id] = o.Name
	}
	counts, err := p.db.DeskCounts(ctx)
	if err != nil {
		p.error(w, r, err)
		return
	}
	for _, c := range []healthcode.Colour{healthcode.Green, healthcode.Yellow, healthcode.Red} {
		d.Codes = append(d.Codes, colourCount{Colour: c, N: counts.Codes[string(c)]})
	}
	changes := counts.ChangesByDay
	days := make([]string, 0, len(changes))
	for day := range changes {
		days = append(days, day)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(days)))
	for _, day := range days[:min(len(days), recentDays)] {
		dc := dayCauses{Day: day}
		for cause, n := range changes[day] {
			dc.Causes = append(dc.Causes, causeCount{Cause: cause, N: n})
		}
		slices.SortFunc(dc.Causes, func(a, b causeCount) int { return strings.Compare(a.Cause, b.Cause) })
		d.Changes = append(d.Changes, dc)
	}
	p.render(w, r, http.StatusOK, p.newPage(w, r, "command", d))
}

// decision reads a form's "decision" (approve or refuse) and reason; a
// refusal needs a reason.
func decision(r *http.Request) (approve bool, reason string, err error) {
	reason = strings.TrimSpace(r.PostFormValue("reason"))
	switch r.PostFormValue("decision") {
	case "approve":
		return true, reason, nil
	case "refuse":
		if reason == "" {
			return false, "", healthcode.FieldErrorf("reason", "a refusal needs a reason")
		}
		return false, reason, nil
	}
	return false, "", healthcode.FieldErrorf("decision", "must be approve or refuse")
}

// DecideFact approves or refuses a pending hand-entered fact.
func (p *Pages) DecideFact(w http.ResponseWriter, r *http.Request) {
	if !p.mustLogIn(w, r) || !p.checkPost(w, r, maxFormBytes) {
		return
	}
	approve, reason, err := decision(r)
	if err != nil {
		p.error(w, r, err)
		return
	}
	key, lang := r.PathValue("key"), langOf(r)
	f, err := p.db.Fact(r.Context(), key)
	if err != nil {
		p.error(w, r, err)
		return
	}
	by := f.RecordedBy
	if o, err := p.db.Official(r.Context(), f.RecordedBy); err == nil {
		by = o.Name
	}
	kind := msg(lang, "kind."+f.Kind)
	if !confirmed(r) {
		d := confirmData{Back: "/command", Summary: []string{msg(lang, "confirm.fact.approve", by, kind)}, Button: msg(lang, "confirm.fact.approve.button")}
		if !approve {
			d.Summary, d.Button = []string{msg(lang, "confirm.fact.refuse", by, kind, reason)}, msg(lang, "confirm.fact.refuse.button")
		}
		p.askConfirm(w, r, d)
		return
	}
	// A fact about a resident: their code before and after, read as one
	// logged visit.
	var fctx context.Context
	var res *healthcode.Resident
	var before *healthcode.CodeState
	if f.Kind != "risk_area" {
		if fctx, res, err = p.db.ReadResidentFile(r.Context(), f.Subject); err == nil {
			before, err = p.db.Code(fctx, f.Subject)
		}
		if err != nil {
			p.error(w, r, err)
			return
		}
	}
	if _, err := p.db.DecideFact(r.Context(), key, approve, reason); err != nil {
		p.error(w, r, err)
		return
	}
	d := doneData{Title: msg(lang, "done.fact.refused"), Links: []doneLink{{Href: "/command", Label: msg(lang, "done.desk")}}}
	if approve {
		d.Title = msg(lang, "done.fact.approved")
	}
	if before != nil {
		after, err := p.db.Code(fctx, f.Subject)
		if err != nil {
			p.error(w, r, err)
			return
		}
		d.Lines = []string{codeChange(lang, res.Name, before.Colour, after.Colour)}
	}
	p.render(w, r, http.StatusOK, p.newPage(w, r, "done", d))
}

// DecideHold releases or refuses a designation held for one resident
// (decision approve: release), after a confirmation in words, and ends on
// a page saying what became of the resident's code.
func (p *Pages) DecideHold(w http.ResponseWriter, r *http.Request) {
	if !p.mustLogIn(w, r) || !p.checkPost(w, r, maxFormBytes) {
		return
	}
	release, reason, err := decision(r)
	if err != nil {
		p.error(w, r, err)
		return
	}
	key, resident, lang := r.PathValue("key"), r.PathValue("resident"), langOf(r)
	fctx, res, err := p.db.ReadResidentFile(r.Context(), resident)
	if err != nil {
		p.error(w, r, err)
		return
	}
	f, err := p.db.Fact(r.Context(), key)
	if err != nil {
		p.error(w, r, err)
		return
	}
	if !confirmed(r) {
		d := confirmData{Back: "/command", Summary: []string{msg(lang, "confirm.hold.release", f.Subject, res.Name)}, Button: msg(lang, "confirm.hold.release.button")}
		if !release {
			d.Summary, d.Button = []string{msg(lang, "confirm.hold.refuse", f.Subject, res.Name, reason)}, msg(lang, "confirm.hold.refuse.button")
		}
		p.askConfirm(w, r, d)
		return
	}
	before, err := p.db.Code(fctx, resident)
	if err != nil {
		p.error(w, r, err)
		return
	}
	if _, err := p.db.DecideDesignationHold(r.Context(), key, resident, release, reason); err != nil {
		p.error(w, r, err)
		return
	}
	after, err := p.db.Code(fctx, resident)
	if err != nil {
		p.error(w, r, err)
		return
	}
	d := doneData{Title: msg(lang, "done.hold.refused"), Lines: []string{codeChange(lang, res.Name, before.Colour, after.Colour)},
		Links: []doneLink{{Href: "/command", Label: msg(lang, "done.desk")}}}
	if release {
		d.Title = msg(lang, "done.hold.released")
	}
	p.render(w, r, http.StatusOK, p.newPage(w, r, "done", d))
}

// DecideRuleset approves (publishes) or refuses a ruleset draft, after a
// confirmation in words, and ends on a page saying what happened: the
// version now in force (or from when) and what the dry run made of the
// approval expects to change.
func (p *Pages) DecideRuleset(w http.ResponseWriter, r *http.Request) {
	if !p.mustLogIn(w, r) || !p.checkPost(w, r, maxFormBytes) {
		return
	}
	ctx, lang := r.Context(), langOf(r)
	version, err := strconv.Atoi(r.PathValue("version"))
	if err != nil {
		p.error(w, r, healthcode.Errorf(healthcode.ENOTFOUND, "no ruleset version %q", r.PathValue("version")))
		return
	}
	approve, reason, err := decision(r)
	if err != nil {
		p.error(w, r, err)
		return
	}
	id := r.PathValue("id")
	info, err := p.db.Ruleset(ctx, id, version)
	if err != nil {
		p.error(w, r, err)
		return
	}
	page := "/rulesets/" + url.PathEscape(id) + "/" + strconv.Itoa(version)
	if !confirmed(r) {
		d := confirmData{Back: page}
		if approve {
			drafter := info.DraftedBy
			if o, err := p.db.Official(ctx, info.DraftedBy); err == nil {
				drafter = o.Name
			}
			d.Summary = []string{msg(lang, "confirm.ruleset.approve", id, version, drafter, p.localTime(info.EffectiveAt), info.Scope)}
			base, err := p.db.RulesetInForce(ctx, info.Scope)
			if err != nil {
				p.error(w, r, err)
				return
			}
			if base != nil {
				d.Summary = append(d.Summary, msg(lang, "confirm.ruleset.replaces", base.ID, base.Version))
			}
			d.Button = msg(lang, "confirm.ruleset.approve.button")
		} else {
			d.Summary, d.Button = []string{msg(lang, "confirm.ruleset.refuse", id, version, reason)}, msg(lang, "confirm.ruleset.refuse.button")
		}
		p.askConfirm(w, r, d)
		return
	}
	if info, err = p.db.DecideRuleset(ctx, id, version, approve, reason); err != nil {
		p.error(w, r, err)
		return
	}
	d := doneData{Title: msg(lang, "done.ruleset.refused"), Links: []doneLink{
		{Href: page, Label: msg(lang, "done.ruleset.read")}, {Href: "/command", Label: msg(lang, "done.desk")}}}
	if !approve {
		d.Lines = []string{msg(lang, "done.ruleset.refusal", id, version, reason)}
		p.render(w, r, http.StatusOK, p.newPage(w, r, "done", d))
		return
	}
	d.Title = msg(lang, "done.ruleset.published")
	if info.EffectiveAt.After(info.DecidedAt) {
		d.Lines = []string{msg(lang, "done.ruleset.from", id, version, p.localTime(info.EffectiveAt))}
	} else {
		d.Lines = []string{msg(lang, "done.ruleset.inforce", id, version, p.localTime(info.EffectiveAt)), msg(lang, "done.ruleset.reevaluating")}
	}
	if info.Impact != nil {
		v, err := p.impactOf(ctx, info.Impact)
		if err != nil {
			p.error(w, r, err)
			return
		}
		d.Lines = append(d.Lines, impactLines(lang, v)...)
	}
	p.render(w, r, http.StatusOK, p.newPage(w, r, "done", d))
}
