package web

import (
	"net/http"
	"regexp"
	"strconv"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
)

// The published rules, readable by anyone (the public promise is that a
// code follows published rules): GET /rulesets lists every ruleset,
// GET /rulesets/{id}/{version} shows one in words and as text, with the
// line diff from the version it would replace. A command officer who may
// decide a draft decides it there, having seen what it changes.

type rulesetsData struct {
	List     []*healthcode.RulesetInfo
	InForce  *healthcode.RulesetInfo // for the province of the first listed, or nil
	Province string
}

// Rulesets lists the stored rulesets, newest first, with the one in force.
func (p *Pages) Rulesets(w http.ResponseWriter, r *http.Request) {
	list, err := p.db.Rulesets(r.Context())
	if err != nil {
		p.error(w, r, err)
		return
	}
	d := rulesetsData{List: list}
	if len(list) > 0 {
		d.Province = list[0].Scope
		if d.InForce, err = p.db.RulesetInForce(r.Context(), d.Province); err != nil {
			p.error(w, r, err)
			return
		}
	}
	p.render(w, r, http.StatusOK, p.newPage(w, r, "rulesets", d))
}

type rulesetData struct {
	Info  *healthcode.RulesetInfo
	Rules []rules.Rule
	Lines []diffLine // the text, numbered (Op ' ')
	// Base is the version compared with: for a draft, the one in force
	// for its scope; for a published or refused version, the version in
	// force now if it is another. Diff is the changed lines with context,
	// nil when the texts are the same.
	Base *healthcode.RulesetInfo
	Diff []diffLine
	// InForce: this version is the one in force now.
	InForce bool
	// CanDecide: the viewer is a command officer who may decide this
	// draft (not its drafter, covering its scope).
	CanDecide bool
	Drafter   string // the drafter's name
	// Impact is what approving would do (store.RulesetImpact), for the
	// officer who may decide; ImpactErr: the dry run failed.
	Impact    *impactView
	ImpactErr bool
}

// Ruleset shows one ruleset version.
func (p *Pages) Ruleset(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	version, err := strconv.Atoi(r.PathValue("version"))
	if err != nil {
		p.error(w, r, healthcode.Errorf(healthcode.ENOTFOUND, "no ruleset version %q", r.PathValue("version")))
		return
	}
	info, err := p.db.Ruleset(ctx, r.PathValue("id"), version)
	if err != nil {
		p.error(w, r, err)
		return
	}
	d := rulesetData{Info: info}
	if rs, err := rules.Parse(info.ID+".yaml", []byte(info.Source)); err == nil {
		d.Rules = rs.Rules()
	}
	for i, l := range splitLines(info.Source) {
		d.Lines = append(d.Lines, diffLine{Op: ' ', Old: i + 1, New: i + 1, Text: l})
	}
	inForce, err := p.db.RulesetInForce(ctx, info.Scope)
	if err != nil {
		p.error(w, r, err)
		return
	}
	if inForce != nil && inForce.ID == info.ID && inForce.Version == info.Version {
		d.InForce = true
	} else if inForce != nil {
		d.Base = inForce
		d.Diff = hunks(lineDiff(inForce.Source, info.Source))
	}
	if o, err := p.db.Official(ctx, info.DraftedBy); err == nil {
		d.Drafter = o.Name
	}
	a := healthcode.ActorFrom(ctx)
	d.CanDecide = info.Status == healthcode.RulesetDraft && a.Kind == healthcode.ActorOfficial && a.Role == healthcode.RoleCommand &&
		a.ID != info.DraftedBy && healthcode.Covers(a.Jurisdiction, info.Scope)
	if d.CanDecide {
		imp, err := p.db.RulesetImpact(ctx, info.ID, info.Version)
		switch c := healthcode.ErrorCode(err); {
		case err == nil:
			if d.Impact, err = p.impactOf(ctx, imp); err != nil {
				p.error(w, r, err)
				return
			}
		case c == healthcode.EFORBIDDEN || c == healthcode.ECONFLICT:
			d.CanDecide = false // the store decides who may approve
		default:
			// The officer may still decide, knowing the dry run failed.
			p.log.WarnContext(ctx, "ruleset dry run failed", "ruleset", info.ID, "version", info.Version, "err", err)
			d.ImpactErr = true
		}
	}
	p.render(w, r, http.StatusOK, p.newPage(w, r, "ruleset", d))
}

// diffArgs lets the "linediff" partial see the page (for T) and the lines.
type diffArgs struct {
	Page  *page
	Lines []diffLine
}

// DiffOf passes a diff to the "linediff" partial.
func (pg *page) DiffOf(lines []diffLine) diffArgs { return diffArgs{Page: pg, Lines: lines} }

// versionLine is a ruleset file's version line, as rules.Parse reads it.
var versionLine = regexp.MustCompile(`(?m)^version:[ \t]*([0-9]+)[ \t]*$`)

// nextVersion returns a ruleset's text with its version line set to the
// version after it, so a draft started from the version in force can be
// stored as it is (the store refuses a version that is not above every
// stored one).
func nextVersion(source string, after int) string {
	return versionLine.ReplaceAllLiteralString(source, "version: "+strconv.Itoa(after+1))
}
