package web

import (
	"slices"
	"strconv"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
)

// svgChart is a chart drawn on the server: rectangles and text in a
// viewBox, so the page needs no script and no chart service. The page
// shows the same numbers in a table next to it.
type svgChart struct {
	ID, Title     string
	Width, Height int
	Rects         []svgRect
	Texts         []svgText
}

type svgRect struct {
	X, Y, W, H int
	Fill       string
	Title      string // the value, shown on hover and read by screen readers
}

type svgText struct {
	X, Y   int
	Anchor string // start, middle, end
	Text   string
	Small  bool
}

// Fills of the code colours and of causes; the legend always writes the
// colour's name too, never colour alone.
var (
	colourFill = map[healthcode.Colour]string{healthcode.Green: "#1a7f37", healthcode.Yellow: "#d4a72c", healthcode.Red: "#cf222e"}
	causeFill  = []string{"#0969da", "#8250df", "#bf3989", "#1b7c83", "#9a6700", "#57606a"}
	colours    = []healthcode.Colour{healthcode.Green, healthcode.Yellow, healthcode.Red}
)

// suppressed is how a suppressed count reads: "<10".
var suppressed = "<" + strconv.Itoa(store.MinPublishedCount)

func countText(c store.Count) string {
	if c == nil {
		return suppressed
	}
	return strconv.FormatInt(*c, 10)
}

func countVal(c store.Count) int64 {
	if c == nil {
		return 0
	}
	return *c
}

type jurisdictionCodes struct {
	Code, Name string
	// Depth is the level below the top of the list (0: the province),
	// for the indented tree the page and the chart show.
	Depth  int
	Counts map[healthcode.Colour]store.Count
}

// chartIndent indents a jurisdiction's name per level of the tree. The
// charts are drawn at their natural size (scrolling sideways where wider
// than the screen, never scaled down: stats.html), so their text is 13 and
// 15 px on a 360 px phone too.
const chartIndent = 14

// codesChart draws one row per jurisdiction: a bar split into its green,
// yellow and red shares, and the three counts written out ("<10" when
// suppressed, which the bar leaves out).
func codesChart(rows []jurisdictionCodes, label func(healthcode.Colour) string) svgChart {
	const rowH, labelW, barW, pad = 46, 0, 280, 8
	ch := svgChart{ID: "codes-chart", Width: barW + 2*pad, Height: pad + rowH*len(rows) + 24}
	for i, r := range rows {
		y := pad + i*rowH
		ch.Texts = append(ch.Texts, svgText{X: pad + chartIndent*r.Depth, Y: y + 13, Anchor: "start", Text: r.Name + " " + r.Code, Small: true})
		var total int64
		for _, c := range colours {
			total += countVal(r.Counts[c])
		}
		x := pad + labelW
		line := ""
		for j, c := range colours {
			n := countVal(r.Counts[c])
			w := 0
			if total > 0 {
				w = int(float64(barW) * float64(n) / float64(total))
			}
			if w > 0 {
				ch.Rects = append(ch.Rects, svgRect{X: x, Y: y + 16, W: w, H: 12, Fill: colourFill[c], Title: label(c) + " " + countText(r.Counts[c])})
			}
			x += w
			if j > 0 {
				line += " · "
			}
			line += label(c) + " " + countText(r.Counts[c])
		}
		if total == 0 {
			ch.Rects = append(ch.Rects, svgRect{X: pad, Y: y + 16, W: barW, H: 12, Fill: "#d0d7de", Title: line})
		}
		ch.Texts = append(ch.Texts, svgText{X: pad, Y: y + 42, Anchor: "start", Text: line, Small: true})
	}
	return ch
}

type dayRow struct {
	Day    string
	Counts map[string]store.Count // cause → changes
}

// changesChart draws code changes per day as stacked columns by cause; a
// suppressed count is a thin grey cap marked "<10".
func changesChart(days []dayRow, causes []string, label func(string) string) svgChart {
	const plotH, colW, gap, pad, head, legendH = 160, 22, 8, 8, 20, 20
	ch := svgChart{ID: "changes-chart", Width: max(2*pad+len(days)*(colW+gap), 296), Height: head + plotH + 44 + legendH*len(causes)}
	var top int64 = 1
	for _, d := range days {
		var t int64
		for _, c := range causes {
			t += countVal(d.Counts[c])
		}
		top = max(top, t)
	}
	base := head + pad + plotH // room above the tallest column for its "<10"
	for i, d := range days {
		x := pad + i*(colW+gap)
		y := base
		anySuppressed := false
		for j, c := range causes {
			n, ok := d.Counts[c]
			if !ok {
				continue
			}
			if n == nil {
				anySuppressed = true
				continue
			}
			h := int(float64(plotH) * float64(*n) / float64(top))
			y -= h
			ch.Rects = append(ch.Rects, svgRect{X: x, Y: y, W: colW, H: h, Fill: causeFill[j%len(causeFill)], Title: d.Day + " " + label(c) + " " + countText(n)})
		}
		if anySuppressed {
			ch.Rects = append(ch.Rects, svgRect{X: x, Y: y - 3, W: colW, H: 3, Fill: "#8c959f", Title: d.Day + " " + suppressed})
			ch.Texts = append(ch.Texts, svgText{X: x + colW/2, Y: y - 6, Anchor: "middle", Text: suppressed, Small: true})
		}
		if i == 0 || i == len(days)-1 || len(days) <= 7 {
			ch.Texts = append(ch.Texts, svgText{X: x + colW/2, Y: base + 16, Anchor: "middle", Text: d.Day[5:], Small: true})
		}
	}
	for j, c := range causes {
		y := base + 34 + j*legendH
		ch.Rects = append(ch.Rects, svgRect{X: pad, Y: y - 10, W: 12, H: 12, Fill: causeFill[j%len(causeFill)], Title: label(c)})
		ch.Texts = append(ch.Texts, svgText{X: pad + 18, Y: y, Anchor: "start", Text: label(c), Small: true})
	}
	return ch
}

// causesOf lists the causes present in days, in a fixed order.
func causesOf(days []dayRow) []string {
	var out []string
	for _, d := range days {
		for c := range d.Counts {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	slices.Sort(out)
	return out
}
