package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/store"
)

// recordKinds are the kinds an official may enter by hand on the record
// page, in the order of the forms (docs/facts.md, "Who may submit what").
var recordKinds = []string{"case_status", "contact", "risk_area"}

type recordData struct {
	Kinds []string   // the kinds the official's role may enter
	Kind  string     // the kind last posted
	Form  url.Values // what was posted, refilled when the store refused it
	Error pageError  // why the store refused it
	// The resident the facts are about, chosen by name: Query and Found
	// are a search (each result a logged read, as on /people); Resident
	// is the one chosen (its page visit one logged read).
	Query    string
	Found    *healthcode.PeoplePage
	Resident *chosenResident
	// Areas are the counties and streets of the official's jurisdiction,
	// offered by name for a risk area's division code.
	Areas []area
}

// area is a division the risk-area form offers: its code, and its name
// with its parent's.
type area struct{ Code, Name string }

// maxAreas bounds the areas the form offers; a larger jurisdiction types
// the code (or picks from the first ones).
const maxAreas = 500

// chosenResident is the resident a record form is about, as the form
// shows them: by name and masked ID number, never by internal id.
type chosenResident struct{ ID, Name, IDMasked string }

// residentKind reports whether a kind's subject is a resident (not an
// area): its form asks for a resident chosen by name.
func residentKind(kind string) bool { return kind != "risk_area" }

// AboutResidents reports whether any of the page's forms is about a
// resident, so the page offers the search.
func (d recordData) AboutResidents() bool {
	for _, k := range d.Kinds {
		if residentKind(k) {
			return true
		}
	}
	return false
}

// Val is a field of the form last posted, if it was the form of kind.
func (d recordData) Val(kind, field string) string {
	if d.Form == nil || d.Kind != kind {
		return ""
	}
	return d.Form.Get(field)
}

// RecordForm shows a form for each kind the official's role may enter by
// hand: case status and risk area (command officers), contact (flow
// tracers).
func (p *Pages) RecordForm(w http.ResponseWriter, r *http.Request) {
	if !p.mustLogIn(w, r) {
		return
	}
	q := r.URL.Query()
	d := recordData{Query: strings.TrimSpace(q.Get("q"))}
	if !p.mayRecord(r) {
		p.renderRecord(w, r, d) // refuses
		return
	}
	var err error
	if id := strings.TrimSpace(q.Get("resident")); id != "" {
		var res *healthcode.Resident
		if _, res, err = p.db.ReadResidentFile(r.Context(), id); err == nil {
			d.Resident = &chosenResident{ID: res.ID, Name: res.Name, IDMasked: res.IDMasked}
		}
	} else if d.Query != "" {
		var page int
		if page, err = pageOf(r); err == nil {
			d.Found, err = p.db.SearchResidents(r.Context(), d.Query, page)
		}
	}
	if err != nil {
		p.error(w, r, err)
		return
	}
	p.renderRecord(w, r, d)
}

// mayRecord reports whether the official's role enters any fact by hand.
func (p *Pages) mayRecord(r *http.Request) bool {
	a := healthcode.ActorFrom(r.Context())
	for _, k := range recordKinds {
		if a.Kind == healthcode.ActorOfficial && rules.MayHandEnter(k, a.Role) {
			return true
		}
	}
	return false
}

func (p *Pages) renderRecord(w http.ResponseWriter, r *http.Request, d recordData) {
	a := healthcode.ActorFrom(r.Context())
	for _, k := range recordKinds {
		if a.Kind == healthcode.ActorOfficial && rules.MayHandEnter(k, a.Role) {
			d.Kinds = append(d.Kinds, k)
		}
	}
	if len(d.Kinds) == 0 {
		p.error(w, r, healthcode.Errorf(healthcode.EFORBIDDEN, "your role enters no facts by hand"))
		return
	}
	if slices.Contains(d.Kinds, "risk_area") {
		js, err := p.db.Jurisdictions(r.Context())
		if err != nil {
			p.error(w, r, err)
			return
		}
		names := map[string]string{}
		for _, j := range js {
			names[j.Code] = j.Name
			if (j.Level == healthcode.County || j.Level == healthcode.Street) && healthcode.Covers(a.Jurisdiction, j.Code) && len(d.Areas) < maxAreas {
				d.Areas = append(d.Areas, area{Code: j.Code, Name: strings.TrimSpace(names[j.Parent] + " " + j.Name)})
			}
		}
	}
	status := http.StatusOK
	if d.Error.Text != "" {
		status = http.StatusBadRequest
	}
	p.render(w, r, status, p.newPage(w, r, "record", d))
}

// Record builds a fact from a record form (the payload per docs/facts.md)
// and records it; the store validates it, decides whether it needs a
// second official's approval and re-evaluates the codes concerned. The
// result page says what it did: the resident's code before and after (read
// as one logged visit), held for approval, or the codes an area changed.
func (p *Pages) Record(w http.ResponseWriter, r *http.Request) {
	if !p.mustLogIn(w, r) || !p.checkPost(w, r, maxFormBytes) {
		return
	}
	f, err := p.factFromForm(r)
	// A fact about a resident: their code before, if the official may
	// read it (if not, the store refuses the fact with its reason).
	var fctx context.Context
	var res *healthcode.Resident
	var before *healthcode.CodeState
	if err == nil && f.Kind != "risk_area" {
		if c, rr, rerr := p.db.ReadResidentFile(r.Context(), f.Subject); rerr == nil {
			if b, cerr := p.db.Code(c, f.Subject); cerr == nil {
				fctx, res, before = c, rr, b
			}
		}
	}
	var out *store.RecordResult
	if err == nil {
		out, err = p.db.RecordFacts(r.Context(), []healthcode.Fact{f})
	}
	// The page again keeps the resident chosen, named as the form
	// named them (the store checks the subject itself).
	var chosen *chosenResident
	if residentKind(f.Kind) && f.Subject != "" {
		chosen = &chosenResident{ID: f.Subject, Name: r.PostFormValue("subject_name"), IDMasked: r.PostFormValue("subject_idmasked")}
	}
	if reusedFactID(err) {
		err = errFormResent
	}
	if healthcode.ErrorCode(err) == healthcode.EINVALID || err == errFormResent {
		// Show why next to the form, with what was typed.
		p.renderRecord(w, r, recordData{Kind: f.Kind, Form: r.PostForm, Error: errorText(langOf(r), err), Resident: chosen})
		return
	}
	if err != nil {
		p.error(w, r, err)
		return
	}
	lang := langOf(r)
	status := "active"
	if len(out.Facts) > 0 {
		status = out.Facts[0].Status
	}
	d := doneData{Title: msg(lang, "done.record."+status), Lines: []string{msg(lang, "record.outcome."+status)}}
	switch {
	case before != nil:
		after, err := p.db.Code(fctx, f.Subject)
		if err != nil {
			p.error(w, r, err)
			return
		}
		line := codeChange(lang, res.Name, before.Colour, after.Colour)
		if status == "pending" {
			line = msg(lang, "done.record.held", res.Name, after.Colour.Label(lang))
		}
		d.Lines = append(d.Lines, line)
		d.Links = append(d.Links, doneLink{Href: "/residents/" + url.PathEscape(f.Subject), Label: msg(lang, "done.record.resident", res.Name)})
	case f.Kind == "risk_area" && status == "active":
		d.Lines = append(d.Lines, msg(lang, "done.record.area", out.Changed))
	}
	d.Links = append(d.Links, doneLink{Href: "/record", Label: msg(lang, "done.record.again")})
	if a := healthcode.ActorFrom(r.Context()); a.Role == healthcode.RoleCommand {
		d.Links = append(d.Links, doneLink{Href: "/command", Label: msg(lang, "done.desk")})
	}
	p.render(w, r, http.StatusOK, p.newPage(w, r, "done", d))
}

// reusedFactID reports whether err refuses a fact because its id (a form
// key) was recorded with other values.
func reusedFactID(err error) bool {
	var e *healthcode.Error
	if !errors.As(err, &e) || len(e.Details) == 0 {
		return false
	}
	d := e.Details[0]
	return d.Field == "id" && strings.Contains(d.Message, "was already used for a different fact")
}

func (p *Pages) factFromForm(r *http.Request) (healthcode.Fact, error) {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	// The form's key is the fact's id: the store records a fact sent
	// twice once (the second is a duplicate), and refuses the id with
	// other values (errFormResent).
	id, err := postedFormKey(r)
	if err != nil {
		return healthcode.Fact{}, err
	}
	if id != "" {
		id = "web-" + id
	} else if id, err = p.newID("web-"); err != nil {
		return healthcode.Fact{}, err
	}
	f := healthcode.Fact{ID: id, Kind: v("kind"), Subject: v("subject"), Evidence: v("evidence")}
	if f.Subject == "" && residentKind(f.Kind) {
		return f, healthcode.FieldErrorf("subject", "is required: find and choose the resident first")
	}
	var payload map[string]any
	switch f.Kind {
	case "case_status":
		at, err := p.formTime("observed_at", v("observed_at"))
		if err != nil {
			return f, err
		}
		f.ObservedAt = at
		payload = map[string]any{"status": v("status"), "case_id": v("case_id")}
	case "contact":
		at, err := p.formTime("exposed_at", v("exposed_at"))
		if err != nil {
			return f, err
		}
		f.ObservedAt = at
		payload = map[string]any{"level": v("level"), "case_id": v("case_id"), "exposed_at": at}
	case "risk_area":
		from, err := p.formTime("from", v("from"))
		if err != nil {
			return f, err
		}
		until, err := p.formTime("until", v("until"))
		if err != nil {
			return f, err
		}
		f.ObservedAt = from
		cases := strings.FieldsFunc(v("case_ids"), func(c rune) bool { return c == ',' || c == '，' || c == ' ' || c == '\n' || c == '\r' || c == '、' })
		payload = map[string]any{"level": v("level"), "from": from, "until": until, "case_ids": cases}
	default:
		return f, healthcode.FieldErrorf("kind", "cannot be entered here")
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return f, err
	}
	f.Payload = b
	return f, nil
}
