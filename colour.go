package healthcode

import "fmt"

// Colour is a health code colour. The zero value is not a valid colour.
type Colour string

// The three colours, in order of severity.
const (
	Green  Colour = "green"
	Yellow Colour = "yellow"
	Red    Colour = "red"
)

// ParseColour parses "green", "yellow" or "red".
func ParseColour(s string) (Colour, error) {
	switch c := Colour(s); c {
	case Green, Yellow, Red:
		return c, nil
	}
	return "", FieldErrorf("colour", "unknown colour %q (want green, yellow or red)", s)
}

// Severity orders colours: green 0, yellow 1, red 2; -1 for an invalid colour.
func (c Colour) Severity() int {
	switch c {
	case Green:
		return 0
	case Yellow:
		return 1
	case Red:
		return 2
	}
	return -1
}

// Valid reports whether c is one of the three colours.
func (c Colour) Valid() bool { return c.Severity() >= 0 }

// Label is the colour as residents and checkpoint staff read it: 绿码, 黄码,
// 红码 in Chinese (lang "zh-CN", the default) or "Green code" and so on in
// English (lang "en").
func (c Colour) Label(lang string) string {
	zh := map[Colour]string{Green: "绿码", Yellow: "黄码", Red: "红码"}
	en := map[Colour]string{Green: "Green code", Yellow: "Yellow code", Red: "Red code"}
	if lang == "en" {
		if s, ok := en[c]; ok {
			return s
		}
	} else if s, ok := zh[c]; ok {
		return s
	}
	return fmt.Sprintf("?(%s)", string(c))
}
