package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
)

// maxRulesetBytes bounds a drafted ruleset (the store's limit is 256 KiB).
const maxRulesetBytes = 300 << 10

type rulesetDraftData struct {
	Name    string
	Source  string
	Checked bool // the text was checked (on submit)
	Lines   []sourceLine
	Errors  []pageError // every rules.Check error (its FILE:LINE: message the Detail), then the store's
	Rules   []rules.Rule
	Legal   rules.LegalBasis
	ID      string
	Version int
	Scope   string
	Stored  *healthcode.RulesetInfo // the draft, once stored
	// Base is the ruleset in force for the draft's scope (or, before a
	// check, the province's), the text the editor starts from; Diff is
	// the checked text's line diff from it (nil: the same text).
	Base *healthcode.RulesetInfo
	Diff []diffLine
}

// keptDraft is what the store keeps as the answer to a ruleset form
// submitted as a draft: the draft, which a second submit shows again.
type keptDraft struct {
	ID       string `json:"id"`
	Version  int    `json:"version"`
	LogIndex int64  `json:"log_index"`
}

// sourceLine is a line of the checked text near an error, with the errors
// at that line.
type sourceLine struct {
	N      int
	Text   string
	Errors []string
}

// RulesetDraftForm shows the ruleset editor, starting from the default
// ruleset's text.
func (p *Pages) RulesetDraftForm(w http.ResponseWriter, r *http.Request) {
	if !p.mustLogIn(w, r) {
		return
	}
	d := rulesetDraftData{Name: rules.DefaultName, Source: string(rules.DefaultSource())}
	// Start from the ruleset in force, as its next version, so that
	// checking and submitting the text unchanged both pass.
	a := healthcode.ActorFrom(r.Context())
	if len(a.Jurisdiction) >= 2 {
		base, err := p.db.RulesetInForce(r.Context(), a.Jurisdiction[:2]+"0000")
		if err != nil {
			p.error(w, r, err)
			return
		}
		if base != nil {
			latest, err := p.latestVersion(r, base.ID)
			if err != nil {
				p.error(w, r, err)
				return
			}
			d.Base, d.Name, d.Source = base, base.ID+".yaml", nextVersion(base.Source, latest)
		}
	}
	p.render(w, r, http.StatusOK, p.newPage(w, r, "ruleset_draft", d))
}

// RulesetDraft checks the submitted text with rules.Check (compile errors
// and the file's examples), shows every error next to its line, and when
// the text is clean and the officer asked to submit, stores it as a draft
// for a second command officer (store.DraftRuleset, which checks again and
// decides who may draft it).
func (p *Pages) RulesetDraft(w http.ResponseWriter, r *http.Request) {
	if !p.mustLogIn(w, r) || !p.checkPost(w, r, maxRulesetBytes) {
		return
	}
	d := rulesetDraftData{Checked: true,
		Name:   strings.TrimSpace(r.PostFormValue("name")),
		Source: strings.ReplaceAll(r.PostFormValue("source"), "\r\n", "\n")}
	if d.Name == "" {
		d.Name = "ruleset.yaml"
	}
	errs := rules.Check(d.Name, []byte(d.Source))
	at := map[int][]string{}
	lang := langOf(r)
	for _, err := range errs {
		// A check error is about the rules language: its text stays
		// technical (in a <code> block), introduced in the page's words.
		text, _ := translate(lang, "ruleset.err.file")
		var pe *rules.PosError
		if errors.As(err, &pe) {
			at[pe.Line] = append(at[pe.Line], err.Error())
			text, _ = translate(lang, "ruleset.err.line", pe.Line)
		}
		d.Errors = append(d.Errors, pageError{Text: text, Detail: err.Error()})
	}
	// The lines around each error, with the error next to its line.
	for i, line := range strings.Split(d.Source, "\n") {
		n := i + 1
		if len(at[n-2])+len(at[n-1])+len(at[n])+len(at[n+1])+len(at[n+2]) > 0 {
			d.Lines = append(d.Lines, sourceLine{N: n, Text: line, Errors: at[n]})
		}
	}
	// The check's answer is this page, errors or not: 200.
	if len(errs) == 0 {
		if rs, err := rules.Parse(d.Name, []byte(d.Source)); err == nil {
			d.Rules, d.Legal, d.ID, d.Version, d.Scope = rs.Rules(), rs.LegalBasis(), rs.ID(), rs.Version(), rs.Scope()
			base, err := p.db.RulesetInForce(r.Context(), rs.Scope())
			if err != nil {
				p.error(w, r, err)
				return
			}
			if base != nil {
				d.Base, d.Diff = base, hunks(lineDiff(base.Source, d.Source))
			}
		}
	}
	if len(errs) == 0 && r.PostFormValue("action") == "submit" {
		ctx, err := withFormClaim(r, "POST /rulesets/new", func(v any) any {
			i := v.(*healthcode.RulesetInfo)
			return keptDraft{ID: i.ID, Version: i.Version, LogIndex: i.LogIndex}
		})
		var info *healthcode.RulesetInfo
		if err == nil {
			info, err = p.db.DraftRuleset(ctx, d.Name, []byte(d.Source))
		}
		var kept keptDraft
		if ok, rerr := replayedForm(err, &kept); ok {
			// The form was sent before: the draft it stored, once.
			err = rerr
			if rerr == nil {
				info = &healthcode.RulesetInfo{ID: kept.ID, Version: kept.Version, LogIndex: kept.LogIndex}
			}
		}
		if c := healthcode.ErrorCode(err); err != nil && c != healthcode.EINVALID && c != healthcode.ECONFLICT {
			p.error(w, r, err)
			return
		}
		if err != nil {
			d.Errors = append(d.Errors, errorText(lang, err))
		}
		d.Stored = info
	}
	p.render(w, r, http.StatusOK, p.newPage(w, r, "ruleset_draft", d))
}

// latestVersion is the highest stored version of ruleset id (any status).
func (p *Pages) latestVersion(r *http.Request, id string) (int, error) {
	all, err := p.db.Rulesets(r.Context())
	if err != nil {
		return 0, err
	}
	v := 0
	for _, rs := range all {
		if rs.ID == id {
			v = max(v, rs.Version)
		}
	}
	return v, nil
}
