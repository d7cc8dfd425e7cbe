package web

import (
	"context"
	"slices"
	"strings"

	"github.com/healthcode/healthcode"
)

// impactView is a dry run (store.Impact) as the approval pages show it, in
// words: how many residents were evaluated and would change, and by county
// from which colour to which.
type impactView struct {
	Residents, Changed, Failed int64
	Rows                       []impactRow
}

type impactRow struct {
	County, Name string // the county's code and name
	From, To     healthcode.Colour
	N            int64
}

// impactOf turns a dry run into its view, counties by name (names are
// read from the directory; a code without a name is shown as the code).
func (p *Pages) impactOf(ctx context.Context, imp *healthcode.Impact) (*impactView, error) {
	if imp == nil {
		return nil, nil
	}
	v := &impactView{Residents: imp.Residents, Changed: imp.Changed, Failed: imp.Failed}
	if len(imp.Colours) == 0 {
		return v, nil
	}
	js, err := p.db.Jurisdictions(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, j := range js {
		names[j.Code] = j.Name
	}
	for county, m := range imp.Colours {
		for change, n := range m {
			from, to, ok := strings.Cut(change, "→")
			if !ok {
				continue
			}
			v.Rows = append(v.Rows, impactRow{County: county, Name: names[county], From: healthcode.Colour(from), To: healthcode.Colour(to), N: n})
		}
	}
	slices.SortFunc(v.Rows, func(a, b impactRow) int {
		if c := strings.Compare(a.County, b.County); c != 0 {
			return c
		}
		if a.From != b.From {
			return slices.Index(colours, a.From) - slices.Index(colours, b.From)
		}
		return slices.Index(colours, a.To) - slices.Index(colours, b.To)
	})
	return v, nil
}

// impactLines says a dry run in words, one line for the totals and one
// per county and change, for the result page.
func impactLines(lang string, v *impactView) []string {
	out := []string{msg(lang, "impact.summary", v.Residents, v.Changed)}
	for _, r := range v.Rows {
		out = append(out, msg(lang, "impact.row", or(r.Name, r.County), r.N, r.From.Label(lang), r.To.Label(lang)))
	}
	if v.Failed > 0 {
		out = append(out, msg(lang, "impact.failed", v.Failed))
	}
	return out
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// impactArgs lets the "impact" partial see the page (for T) and the view.
type impactArgs struct {
	Page *page
	ID   string // the section's id, and the prefix of its parts' ids
	V    *impactView
	Err  bool // the dry run failed: the approver decides without it
}

// ImpactOf passes a dry run to the "impact" partial.
func (pg *page) ImpactOf(v *impactView, failed bool) impactArgs {
	return impactArgs{Page: pg, ID: "impact", V: v, Err: failed}
}

// DesignationImpactOf passes the dry run of the pending designation key
// (commandData.Impacts) to the "impact" partial, one of several on the
// desk.
func (pg *page) DesignationImpactOf(d commandData, key string) impactArgs {
	return impactArgs{Page: pg, ID: "impact-" + key, V: d.Impacts[key], Err: d.ImpactFailed[key]}
}
