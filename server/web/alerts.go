package web

import (
	"encoding/json"
	"net/http"

	"github.com/healthcode/healthcode"
)

type alertsData struct {
	Kind   string
	Kinds  []string
	Alerts []alertRow
	Page   int
	More   bool
}

type alertRow struct {
	*healthcode.Alert
	Detail string // the detail as JSON text
}

// alertKinds are the anomaly alerts the store raises.
var alertKinds = []string{healthcode.AlertOfficialVolume, healthcode.AlertSourceSurge, healthcode.AlertCaseContacts,
	healthcode.AlertBulkReads, healthcode.AlertAppealOverdue, healthcode.AlertReraise}

// Alerts lists anomaly alerts, newest first, optionally of one kind, each
// with its log entry. Auditors only (the store decides).
func (p *Pages) Alerts(w http.ResponseWriter, r *http.Request) {
	if !p.mustLogIn(w, r) {
		return
	}
	d := alertsData{Kind: r.URL.Query().Get("kind"), Kinds: alertKinds}
	page, err := pageOf(r)
	if err != nil {
		p.error(w, r, err)
		return
	}
	as, more, err := p.db.Alerts(r.Context(), d.Kind, page)
	d.Page, d.More = page, more
	if err != nil {
		p.error(w, r, err)
		return
	}
	for _, a := range as {
		b, _ := json.Marshal(a.Detail)
		d.Alerts = append(d.Alerts, alertRow{Alert: a, Detail: string(b)})
	}
	p.render(w, r, http.StatusOK, p.newPage(w, r, "alerts", d))
}
