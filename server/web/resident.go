package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
)

type residentData struct {
	Resident *healthcode.Resident
	Code     *store.Explanation   // the code now and why
	History  []*store.Explanation // the changes, newest first, a page of them
	// Access lists officials' reads of the resident's data, newest first,
	// a page of them; only the resident sees it (Own).
	Access []healthcode.Access
	Own    bool
	// The pages of History and Access shown (from 1; "history" and
	// "access" in the query) and whether each has a next page.
	HistoryPage, AccessPage int
	HistoryMore, AccessMore bool
	// QR is the URL of the resident's QR image (GET
	// /v1/residents/{id}/token?format=png), or "" when the server issues
	// no tokens.
	QR string
	// QRRefresh is how often, in seconds, the page reloads the QR image:
	// well within a token's lifetime, so the code shown is never stale.
	QRRefresh int
	// Appeals are the resident's appeals, newest first, and Pending the
	// facts about them held for approval (both disputable), for the
	// resident, a community worker or a command officer covering them.
	Appeals []*healthcode.Appeal
	Pending []healthcode.PendingFact
	// CanAppeal: the viewer may file an appeal (the resident, or a
	// community worker, who gives the consent reference: Worker).
	CanAppeal, Worker bool
	// AttachMax and AttachMiB are the store's attachment limits.
	AttachMax, AttachMiB int
	// Appeal is a refused appeal form, shown again with the reason.
	Appeal *appealForm
	// Hotline and Office are where a resident with a yellow or red code
	// turns (Options), shown with the outlook (partial_outlook.html).
	Hotline, Office string
}

// qrRefreshSeconds is well under the time the server keeps a served token
// valid for (server.TokenMinFresh, 10 of token.DefaultValidity's 15
// minutes).
const qrRefreshSeconds = 240

// Resident is a resident's page: the code, large, in its colour and in
// words; the QR code; why it has that colour (rule, reason, legal basis,
// facts with who recorded and approved them, log entries); and the
// history; and, for the resident, who looked at their data. The store decides who may read it (the resident, or an
// official of their area, whose read it logs).
func (p *Pages) Resident(w http.ResponseWriter, r *http.Request) {
	if healthcode.ActorFrom(r.Context()).Kind == "" {
		p.error(w, r, healthcode.Errorf(healthcode.EUNAUTH, "log in first"))
		return
	}
	if healthcode.ActorFrom(r.Context()).Kind == healthcode.ActorOfficial {
		// An official's visit is one logged read of the file, however
		// many parts of it the page shows.
		ctx, _, err := p.db.ReadResidentFile(r.Context(), r.PathValue("id"))
		if err != nil {
			p.error(w, r, err)
			return
		}
		r = r.WithContext(ctx)
	}
	d, err := p.residentPage(r, r.PathValue("id"))
	if err != nil {
		p.error(w, r, err)
		return
	}
	pg := p.newPage(w, r, "resident", d)
	if d.Own {
		pg.Unread = p.unread(r)
	}
	p.render(w, r, http.StatusOK, pg)
}

// residentPage reads what a resident's page shows.
func (p *Pages) residentPage(r *http.Request, id string) (*residentData, error) {
	res, err := p.db.Resident(r.Context(), id)
	if err != nil {
		return nil, err
	}
	ex, err := p.db.Explain(r.Context(), id)
	if err != nil {
		return nil, err
	}
	d := &residentData{Resident: res, Code: ex, QRRefresh: qrRefreshSeconds, Hotline: p.opts.Hotline, Office: p.opts.Office}
	if d.HistoryPage, err = pageNamed(r, "history"); err != nil {
		return nil, err
	}
	if d.AccessPage, err = pageNamed(r, "access"); err != nil {
		return nil, err
	}
	if d.History, d.HistoryMore, err = p.db.History(r.Context(), id, d.HistoryPage); err != nil {
		return nil, err
	}
	if a := healthcode.ActorFrom(r.Context()); a.Kind == healthcode.ActorResident && a.ID == res.ID {
		d.Own = true
		if d.Access, d.AccessMore, err = p.db.AccessLog(r.Context(), id, d.AccessPage); err != nil {
			return nil, err
		}
	}
	if err := p.residentAppeals(r, d); err != nil {
		return nil, err
	}
	if p.opts.Tokens() && d.Own {
		d.QR = "/v1/residents/" + res.ID + "/token?format=png&lang=" + langOf(r)
	}
	return d, nil
}

// ResidentGoto sends the "find a resident" form of an official's start
// page to the resident's page, where the store decides whether the
// official may read it (and logs the read for the resident).
func (p *Pages) ResidentGoto(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSpace(r.URL.Query().Get("id"))
	if id == "" {
		p.error(w, r, healthcode.FieldErrorf("id", "is required"))
		return
	}
	http.Redirect(w, r, "/residents/"+url.PathEscape(id), http.StatusSeeOther)
}
