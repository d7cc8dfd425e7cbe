package web

import (
	"fmt"
	"strings"
	"time"

	"github.com/healthcode/healthcode"
)

// DefaultTimeZone is the zone of the pages' times and forms unless the
// server is configured otherwise (serve --time-zone).
const DefaultTimeZone = "Asia/Shanghai"

// timeFormat is the pages' one format for a time; the zone is named once
// per page, not after every time.
const timeFormat = "2006-01-02 15:04"

// defaultZone loads DefaultTimeZone, or UTC+8 where the system has no
// zone database (the binary embeds one: cmd/healthcode imports
// time/tzdata).
func defaultZone() *time.Location {
	if loc, err := time.LoadLocation(DefaultTimeZone); err == nil {
		return loc
	}
	return time.FixedZone("UTC+8", 8*3600)
}

// localTime writes t in the pages' zone and format; a zero time is "".
func (p *Pages) localTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(p.opts.TimeZone).Format(timeFormat)
}

// zoneName names the pages' zone with its offset: "Asia/Shanghai, UTC+8".
func (p *Pages) zoneName() string {
	_, off := p.opts.Now().In(p.opts.TimeZone).Zone()
	utc := "UTC"
	if off != 0 {
		utc = fmt.Sprintf("UTC%+d", off/3600)
		if m := off % 3600 / 60; m != 0 {
			utc += fmt.Sprintf(":%02d", max(m, -m))
		}
	}
	if name := p.opts.TimeZone.String(); name != "" && name != "UTC" && !strings.HasPrefix(name, "UTC") {
		return name + ", " + utc
	}
	return utc
}

// formTime parses a form's datetime-local field in the pages' zone and
// returns it in UTC, as the store keeps it.
func (p *Pages) formTime(field, v string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, strings.TrimSpace(v), p.opts.TimeZone); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, healthcode.FieldErrorf(field, "is not a date and time (YYYY-MM-DDTHH:MM)")
}
