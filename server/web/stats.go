package web

import (
	"net/http"
	"slices"
	"sort"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
)

// statsDays is how many days of code changes the statistics page charts.
const statsDays = 14

type statsData struct {
	Stats   *store.Stats
	Codes   []jurisdictionCodes
	Days    []dayRow
	Causes  []string
	CodesSV svgChart
	DaysSV  svgChart
	Appeals []keyCount
	Alerts  []keyCount
}

type keyCount struct {
	Key string
	N   store.Count
}

// Stats is the public statistics page: codes by colour in the province,
// its cities and counties, and code changes per day by cause, as charts
// drawn on the server in SVG with the numbers in tables beside them;
// appeal outcomes and alerts by kind. Counts below
// store.MinPublishedCount read "<10".
func (p *Pages) Stats(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	st, err := p.stats(ctx)
	if err != nil {
		p.error(w, r, err)
		return
	}
	js, err := p.db.Jurisdictions(ctx)
	if err != nil {
		p.error(w, r, err)
		return
	}
	lang := langOf(r)
	d := statsData{Stats: st}
	for _, j := range js {
		if j.Level > healthcode.County || len(d.Codes) >= 40 {
			continue
		}
		m, ok := st.Codes[j.Code]
		if !ok {
			continue
		}
		jc := jurisdictionCodes{Code: j.Code, Name: j.Name, Depth: int(j.Level - healthcode.Province), Counts: map[healthcode.Colour]store.Count{}}
		for _, c := range colours {
			jc.Counts[c] = m[string(c)]
		}
		d.Codes = append(d.Codes, jc)
	}
	days := make([]string, 0, len(st.ChangesByDay))
	for day := range st.ChangesByDay {
		days = append(days, day)
	}
	sort.Strings(days)
	if len(days) > statsDays {
		days = days[len(days)-statsDays:]
	}
	for _, day := range days {
		d.Days = append(d.Days, dayRow{Day: day, Counts: st.ChangesByDay[day]})
	}
	d.Causes = causesOf(d.Days)
	colourLabel := func(c healthcode.Colour) string { return c.Label(lang) }
	causeLabel := func(c string) string {
		if s, err := translate(lang, "causeshort."+c); err == nil {
			return s
		}
		return c
	}
	d.CodesSV = codesChart(d.Codes, colourLabel)
	d.DaysSV = changesChart(d.Days, d.Causes, causeLabel)
	d.CodesSV.Title, _ = translate(lang, "stats.codes")
	d.DaysSV.Title, _ = translate(lang, "stats.changes")
	for _, k := range []string{"filed", healthcode.AppealOpen, healthcode.AppealGranted, healthcode.AppealDenied, "overdue"} {
		d.Appeals = append(d.Appeals, keyCount{Key: k, N: st.Appeals[k]})
	}
	for k, n := range st.Alerts {
		d.Alerts = append(d.Alerts, keyCount{Key: k, N: n})
	}
	slices.SortFunc(d.Alerts, func(a, b keyCount) int {
		if a.Key < b.Key {
			return -1
		}
		return 1
	})
	p.render(w, r, http.StatusOK, p.newPage(w, r, "stats", d))
}
