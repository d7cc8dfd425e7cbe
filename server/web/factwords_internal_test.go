package web

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFactWordsUndecodable: a payload value that does not decode as its
// field's type is shown as its JSON text, not as an empty or zero value.
func TestFactWordsUndecodable(t *testing.T) {
	pg := &page{Lang: "en"}
	for _, tc := range []struct {
		name, kind, payload string
		want                []factField
	}{
		{"decodes", "vaccination", `{"dose":2,"product":"x"}`, []factField{
			{Name: "dose", Label: pg.Or("field.dose", "dose"), Value: "2"},
			{Name: "product", Label: pg.Or("field.product", "product"), Value: "x"},
		}},
		{"int as text", "vaccination", `{"dose":"two"}`, []factField{
			{Name: "dose", Label: pg.Or("field.dose", "dose"), Value: `"two"`, Code: true},
		}},
		{"string as number", "vaccination", `{"product":7}`, []factField{
			{Name: "product", Label: pg.Or("field.product", "product"), Value: "7", Code: true},
		}},
		{"ids as text", "risk_area", `{"case_ids":"c-1"}`, []factField{
			{Name: "case_ids", Label: pg.Or("field.case_ids", "case_ids"), Value: `"c-1"`, Code: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, pg.FactWords(tc.kind, []byte(tc.payload))); diff != "" {
				t.Errorf("FactWords(%s, %s) (-want +got):\n%s", tc.kind, tc.payload, diff)
			}
		})
	}
}
