package web

import (
	"net/http"
	"slices"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
)

// inboxItem is one thing that concerns a resident: an appeal decided, a
// fact about them held for approval, a change of their code.
type inboxItem struct {
	At       time.Time
	Kind     string // appeal_decided, fact_held, code_changed
	Unread   bool
	Appeal   *healthcode.Appeal
	Fact     *healthcode.PendingFact
	Change   *store.Explanation
	LogIndex int64
}

type inboxData struct {
	Items []inboxItem
	Page  int
	More  bool
}

// inboxPerPage is how many items a page of the inbox shows.
const inboxPerPage = 20

// inboxChanges bounds the code changes the inbox reads (the newest).
const inboxChanges = 10 * store.PerPage

// inbox derives a resident's inbox from the projection, newest first.
func (p *Pages) inbox(r *http.Request) ([]inboxItem, error) {
	a := healthcode.ActorFrom(r.Context())
	seen, err := p.db.InboxSeen(r.Context())
	if err != nil {
		return nil, err
	}
	appeals, pending, err := p.db.ResidentAppeals(r.Context(), a.ID)
	if err != nil {
		return nil, err
	}
	// The code changes, a bounded page at a time, up to inboxChanges.
	var hist []*store.Explanation
	for n, more := 1, true; more && len(hist) < inboxChanges; n++ {
		var page []*store.Explanation
		if page, more, err = p.db.History(r.Context(), a.ID, n); err != nil {
			return nil, err
		}
		hist = append(hist, page...)
	}
	var items []inboxItem
	for _, ap := range appeals {
		if ap.Status != healthcode.AppealGranted && ap.Status != healthcode.AppealDenied || len(ap.Steps) == 0 {
			continue
		}
		last := ap.Steps[len(ap.Steps)-1]
		items = append(items, inboxItem{At: last.At, Kind: "appeal_decided", Appeal: ap, LogIndex: last.LogIndex})
	}
	for i := range pending {
		f := &pending[i]
		items = append(items, inboxItem{At: f.RecordedAt, Kind: "fact_held", Fact: f, LogIndex: f.LogIndex})
	}
	for _, ex := range hist {
		if ex.Previous == "" {
			continue // the first code, not a change
		}
		items = append(items, inboxItem{At: ex.Since, Kind: "code_changed", Change: ex, LogIndex: ex.LogIndex})
	}
	slices.SortStableFunc(items, func(x, y inboxItem) int { return y.At.Compare(x.At) })
	for i := range items {
		items[i].Unread = items[i].At.After(seen)
	}
	return items, nil
}

// unread counts a resident's unread inbox items, for the badge; 0 when it
// cannot be read (the page still shows).
func (p *Pages) unread(r *http.Request) int {
	items, err := p.inbox(r)
	if err != nil {
		p.log.WarnContext(r.Context(), "inbox unread count", "err", err)
		return 0
	}
	n := 0
	for _, it := range items {
		if it.Unread {
			n++
		}
	}
	return n
}

// Inbox is a resident's in-app inbox: appeals decided, facts held for
// approval and code changes, newest first, the unread ones marked;
// opening it marks everything shown as read.
func (p *Pages) Inbox(w http.ResponseWriter, r *http.Request) {
	if !p.mustLogIn(w, r) {
		return
	}
	if healthcode.ActorFrom(r.Context()).Kind != healthcode.ActorResident {
		p.error(w, r, healthcode.Errorf(healthcode.EFORBIDDEN, "only residents have an inbox"))
		return
	}
	n, err := pageOf(r)
	if err != nil {
		p.error(w, r, err)
		return
	}
	items, err := p.inbox(r)
	if err != nil {
		p.error(w, r, err)
		return
	}
	unread := 0
	for _, it := range items {
		if it.Unread {
			unread++
		}
	}
	d := inboxData{Page: n}
	d.Items, d.More = paginate(items, n, inboxPerPage)
	if len(items) > 0 {
		if err := p.db.MarkInboxRead(r.Context(), items[0].At); err != nil {
			p.error(w, r, err)
			return
		}
	}
	pg := p.newPage(w, r, "inbox", d)
	pg.Unread = unread
	p.render(w, r, http.StatusOK, pg)
}
