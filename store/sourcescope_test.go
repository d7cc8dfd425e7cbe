package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
)

// TestSourceScope: a source records facts only about residents inside its
// jurisdiction subtree. Zhengzhou's lab (410100) cannot file a result for
// a resident of Kaifeng (410200): the batch is refused, nothing is stored,
// and the error names the line and the resident.
func TestSourceScope(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustWorld(t, dsn)
		if err := w.db.CreateJurisdictions(system, []healthcode.Jurisdiction{
			{Code: "410200", Name: "开封市", Level: healthcode.City, Parent: "410000"},
		}); err != nil {
			t.Fatal(err)
		}
		outside := resident(100, "410200")
		if err := w.db.CreateResidents(system, []healthcode.Resident{outside}); err != nil {
			t.Fatal(err)
		}
		inside := resident(0, "410105001001").ID
		batch := []healthcode.Fact{
			w.pcr("pcr-in", inside, "positive", w.now.Add(-time.Hour)),
			w.pcr("pcr-out", outside.ID, "positive", w.now.Add(-time.Hour)),
		}
		_, err := w.db.RecordFacts(as(lab), batch)
		var he *healthcode.Error
		if !errorsAs(err, &he) || len(he.Details) != 1 {
			t.Fatalf("RecordFacts = %v, want one error", err)
		}
		d := he.Details[0]
		if d.Line != 2 || d.Field != "subject" || !strings.Contains(d.Message, outside.ID) || !strings.Contains(d.Message, "410100") {
			t.Errorf("error %+v, want line 2, subject, naming %s and the source's 410100", d, outside.ID)
		}
		for _, id := range []string{inside, outside.ID} {
			if c, err := w.db.Code(system, id); err != nil || c.Colour != healthcode.Green {
				t.Errorf("code of %s = %+v, %v; want green (nothing stored)", id, c, err)
			}
		}
		// Inside its subtree the same source records.
		if _, err := w.db.RecordFacts(as(lab), batch[:1]); err != nil {
			t.Errorf("in scope: %v", err)
		}
	})
}
