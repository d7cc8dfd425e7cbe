package web

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/healthcode/healthcode"
)

// maxAppealBytes bounds an appeal form: the store's attachment limits and
// room for the statement and fields.
const maxAppealBytes = healthcode.MaxAttachments*healthcode.MaxAttachmentSize + 64<<10

// FileAppeal files an appeal from the resident page's form: by the
// resident, or by a community worker with the reference of the resident's
// recorded consent. The disputed facts are the ticked "fact" boxes;
// attachments are optional. The store checks who may file and every
// limit; the page then shows the appeal.
func (p *Pages) FileAppeal(w http.ResponseWriter, r *http.Request) {
	if !p.mustLogIn(w, r) || !p.checkPost(w, r, maxAppealBytes) {
		return
	}
	req := healthcode.AppealRequest{
		Resident:   r.PathValue("id"),
		FactKeys:   r.PostForm["fact"],
		Statement:  r.PostFormValue("statement"),
		ConsentRef: strings.TrimSpace(r.PostFormValue("consent_ref")),
	}
	if r.MultipartForm != nil {
		for _, fh := range r.MultipartForm.File["attachment"] {
			if fh.Size == 0 && fh.Filename == "" {
				continue
			}
			if fh.Size > healthcode.MaxAttachmentSize {
				p.error(w, r, healthcode.FieldErrorf("attachments", "%s is larger than %d MiB", fh.Filename, healthcode.MaxAttachmentSize>>20))
				return
			}
			f, err := fh.Open()
			if err != nil {
				p.error(w, r, err)
				return
			}
			data, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				p.error(w, r, err)
				return
			}
			mt := fh.Header.Get("Content-Type")
			if mt == "" {
				mt = "application/octet-stream"
			}
			req.Attachments = append(req.Attachments, healthcode.Attachment{Name: fh.Filename, MediaType: mt, Data: data})
		}
	}
	ctx, err := withFormClaim(r, "POST /residents/{id}/appeals", func(v any) any {
		return keptAppeal{ID: v.(*healthcode.Appeal).ID}
	})
	var a *healthcode.Appeal
	if err == nil {
		a, err = p.db.FileAppeal(ctx, req)
	}
	var kept keptAppeal
	if ok, rerr := replayedForm(err, &kept); ok {
		// The form was sent before: its appeal, filed once.
		a, err = &healthcode.Appeal{ID: kept.ID}, rerr
	}
	if healthcode.ErrorCode(err) == healthcode.EINVALID {
		// The resident page again, the form as it was and why.
		d, derr := p.residentPage(r, req.Resident)
		if derr != nil {
			p.error(w, r, err)
			return
		}
		d.Appeal = &appealForm{Error: errorText(langOf(r), err), Facts: req.FactKeys, Statement: req.Statement, ConsentRef: req.ConsentRef}
		p.render(w, r, p.opts.Status(healthcode.EINVALID), p.newPage(w, r, "resident", d))
		return
	}
	if err != nil {
		p.error(w, r, err)
		return
	}
	http.Redirect(w, r, "/appeals/"+url.PathEscape(a.ID), http.StatusSeeOther)
}

// keptAppeal is what the store keeps as the answer to an appeal form:
// the appeal it filed, whose page a second submit is sent to.
type keptAppeal struct {
	ID string `json:"id"`
}

type appealData struct {
	Appeal *healthcode.Appeal
	// CanConsent: the resident confirms a community worker's filing.
	CanConsent bool
	// CanDecide: a command officer may grant or deny an open appeal (the
	// store still refuses one who recorded or approved a disputed fact).
	CanDecide bool
	// Facts are the disputed facts in full, for the deciding officer;
	// Involved: the officer recorded or approved one, so another decides.
	Facts    []*healthcode.Fact
	Involved bool
	// Names are the names of the officials who recorded or approved the
	// facts, by id: pages name people, not ids.
	Names map[string]string
}

// Appeal shows an appeal and every step of it, to the resident, the
// community worker covering them or a command officer (the store decides,
// and logs officials' reads); the resident can confirm a worker's filing
// and a command officer can grant or deny it.
func (p *Pages) Appeal(w http.ResponseWriter, r *http.Request) {
	if !p.mustLogIn(w, r) {
		return
	}
	a, err := p.db.Appeal(r.Context(), r.PathValue("id"))
	if err != nil {
		p.error(w, r, err)
		return
	}
	actor := healthcode.ActorFrom(r.Context())
	d := appealData{Appeal: a,
		CanConsent: a.Status == healthcode.AppealAwaitingConsent && actor.Kind == healthcode.ActorResident && actor.ID == a.Resident,
		CanDecide:  a.Status == healthcode.AppealOpen && actor.Kind == healthcode.ActorOfficial && actor.Role == healthcode.RoleCommand,
	}
	if d.CanDecide {
		for _, k := range a.FactKeys {
			f, err := p.db.Fact(r.Context(), k)
			if err != nil {
				p.error(w, r, err)
				return
			}
			d.Facts = append(d.Facts, f)
			if f.RecordedBy == actor.ID || f.ApprovedBy == actor.ID {
				d.Involved, d.CanDecide = true, false
			}
		}
		if d.Names, err = p.officialNames(r, d.Facts); err != nil {
			p.error(w, r, err)
			return
		}
	}
	p.render(w, r, http.StatusOK, p.newPage(w, r, "appeal", d))
}

// officialNames are the names of the officials who recorded or approved
// facts, by id.
func (p *Pages) officialNames(r *http.Request, facts []*healthcode.Fact) (map[string]string, error) {
	names := map[string]string{}
	for _, f := range facts {
		for _, id := range []string{f.RecordedBy, f.ApprovedBy} {
			if _, ok := names[id]; ok || id == "" {
				continue
			}
			o, err := p.db.Official(r.Context(), id)
			if err != nil {
				return nil, err
			}
			names[id] = o.Name
		}
	}
	return names, nil
}

// ConsentAppeal is the resident confirming an appeal a community worker
// filed for them.
func (p *Pages) ConsentAppeal(w http.ResponseWriter, r *http.Request) {
	if !p.mustLogIn(w, r) || !p.checkPost(w, r, maxFormBytes) {
		return
	}
	a, err := p.db.ConsentAppeal(r.Context(), r.PathValue("id"))
	if err != nil {
		p.error(w, r, err)
		return
	}
	http.Redirect(w, r, "/appeals/"+url.PathEscape(a.ID), http.StatusSeeOther)
}

// DecideAppeal grants (decision=grant) or denies (decision=deny, with a
// reason) an open appeal.
func (p *Pages) DecideAppeal(w http.ResponseWriter, r *http.Request) {
	if !p.mustLogIn(w, r) || !p.checkPost(w, r, maxFormBytes) {
		return
	}
	id := r.PathValue("id")
	var grant bool
	switch r.PostFormValue("decision") {
	case "grant":
		grant = true
	case "deny":
	default:
		p.error(w, r, healthcode.FieldErrorf("decision", "must be grant or deny"))
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if !grant && reason == "" {
		p.error(w, r, healthcode.FieldErrorf("reason", "a denial needs a written reason"))
		return
	}
	a, err := p.db.Appeal(r.Context(), id)
	if err != nil {
		p.error(w, r, err)
		return
	}
	lang := langOf(r)
	name := a.ResidentName
	if !confirmed(r) {
		d := confirmData{Back: "/appeals/" + url.PathEscape(id)}
		if grant {
			d.Summary = []string{msg(lang, "confirm.appeal.grant", name, len(a.FactKeys))}
			d.Button = msg(lang, "confirm.appeal.grant.button")
		} else {
			d.Summary = []string{msg(lang, "confirm.appeal.deny", name, reason)}
			d.Button = msg(lang, "confirm.appeal.deny.button")
		}
		p.askConfirm(w, r, d)
		return
	}
	// The resident's code before and after, read as one logged visit.
	fctx, _, err := p.db.ReadResidentFile(r.Context(), a.Resident)
	if err != nil {
		p.error(w, r, err)
		return
	}
	before, err := p.db.Code(fctx, a.Resident)
	if err != nil {
		p.error(w, r, err)
		return
	}
	if _, err := p.db.DecideAppeal(r.Context(), id, grant, reason); err != nil {
		p.error(w, r, err)
		return
	}
	after, err := p.db.Code(fctx, a.Resident)
	if err != nil {
		p.error(w, r, err)
		return
	}
	d := doneData{Title: msg(lang, "done.appeal.denied"), Links: []doneLink{
		{Href: "/appeals/" + url.PathEscape(id), Label: msg(lang, "done.appeal.open")},
		{Href: "/command", Label: msg(lang, "done.desk")},
	}}
	if grant {
		d.Title = msg(lang, "done.appeal.granted")
	}
	d.Lines = []string{codeChange(lang, name, before.Colour, after.Colour)}
	p.render(w, r, http.StatusOK, p.newPage(w, r, "done", d))
}

// msg is a catalogue message for a handler's own text (the key is known
// to be there: TestCatalogue and the page tests render each).
func msg(lang, key string, args ...any) string {
	s, err := translate(lang, key, args...)
	if err != nil {
		return key
	}
	return s
}

// AppealAttachment sends an appeal's attachment as a download (never
// rendered in the page's origin), to whoever may read the appeal.
func (p *Pages) AppealAttachment(w http.ResponseWriter, r *http.Request) {
	if !p.mustLogIn(w, r) {
		return
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil {
		p.error(w, r, healthcode.Errorf(healthcode.ENOTFOUND, "no attachment %q", r.PathValue("n")))
		return
	}
	a, err := p.db.AttachmentData(r.Context(), r.PathValue("id"), n)
	if err != nil {
		p.error(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename*=UTF-8''%s", url.PathEscape(a.Name)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.Write(a.Data)
}
