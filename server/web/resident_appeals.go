package web

import (
	"net/http"
	"slices"

	"github.com/healthcode/healthcode"
)

// residentAppeals fills in the appeals panel of a resident's page: the
// appeals and pending facts, for whoever may file or follow appeals (the
// resident, a community worker or a command officer of their area; the
// store decides and logs officials' reads).
func (p *Pages) residentAppeals(r *http.Request, d *residentData) error {
	a := healthcode.ActorFrom(r.Context())
	d.AttachMax, d.AttachMiB = healthcode.MaxAttachments, healthcode.MaxAttachmentSize>>20
	switch {
	case d.Own:
		d.CanAppeal = true
	case a.Kind == healthcode.ActorOfficial && a.Role == healthcode.RoleWorker:
		d.CanAppeal, d.Worker = true, true
	case a.Kind == healthcode.ActorOfficial && a.Role == healthcode.RoleCommand:
	default:
		return nil
	}
	var err error
	d.Appeals, d.Pending, err = p.db.ResidentAppeals(r.Context(), d.Resident.ID)
	return err
}

// appealForm is what an appeal form held when the store refused it.
type appealForm struct {
	Error      pageError
	Facts      []string
	Statement  string
	ConsentRef string
}

// Disputed reports whether the refused form had fact key ticked.
func (f *appealForm) Disputed(key string) bool { return f != nil && slices.Contains(f.Facts, key) }
