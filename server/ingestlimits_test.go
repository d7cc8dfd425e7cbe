package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/apitest"
	"github.com/healthcode/healthcode/internal/testdb"
)

// TestIngestBoundedMemory: a 16 MiB batch of "{}" lines from a source key
// is refused after its first 10,001 lines, allocating well under 100 MB
// in all (the unbounded parser allocated gigabytes); and a 2 MB body of
// bad lines gets a small answer that still names the first lines and
// fields at fault, with the total count.
func TestIngestBoundedMemory(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn)
		const key = "hck_0123456789abcdef0123456789ab"
		src := healthcode.Source{ID: "s_lab", Name: "实验室", Kinds: []string{"test_result"}, Jurisdiction: "410000"}
		if err := f.db.CreateSource(system, src, key); err != nil {
			t.Fatal(err)
		}
		post := func(body io.Reader) *httptest.ResponseRecorder {
			req := httptest.NewRequest("POST", "/v1/facts", body)
			req.Header.Set("Authorization", "Bearer "+key)
			w := httptest.NewRecorder()
			apitest.Handler(t, f.srv).ServeHTTP(w, req)
			return w
		}
		post(strings.NewReader("{}\n")) // warm up: the source's key, caches

		// TotalAlloc counts every byte allocated, freed or not: an upper
		// bound of the peak, which no GC timing can make flaky.
		body := strings.NewReader(strings.Repeat("{}\n", 16<<20/3))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		w := post(body)
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 100<<20 {
			t.Errorf("a 16 MiB batch of {} lines allocated %d MB, want < 100 MB", alloc>>20)
		} else {
			t.Logf("a 16 MiB batch of {} lines: %d KB allocated, %d bytes of the body read", alloc>>10, int64(16<<20/3*3)-int64(body.Len()))
		}
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "more than 10000 facts") {
			t.Errorf("16 MiB of {}: %d %s", w.Code, w.Body)
		}

		// 2 MB of lines with a wrong type: 5,000 errors, 100 shown.
		bad := `{"id":1,"evidence":"` + strings.Repeat("x", 400) + `"}` + "\n"
		w = post(strings.NewReader(strings.Repeat(bad, 2<<20/len(bad))))
		var eb struct {
			Error struct {
				Code    string
				Details []struct {
					Line           int
					Field, Message string
				}
				DetailsTotal int `json:"details_total"`
			}
		}
		if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil {
			t.Fatalf("%d %.200s: %v", w.Code, w.Body, err)
		}
		d := eb.Error.Details
		if w.Code != http.StatusBadRequest || w.Body.Len() > 32<<10 || len(d) != 100 || eb.Error.DetailsTotal != 2<<20/len(bad) ||
			d[0].Line != 1 || d[0].Field != "id" || d[99].Line != 100 {
			t.Errorf("2 MB of bad lines: %d, %d bytes, %d details of %d: %.300s", w.Code, w.Body.Len(), len(d), eb.Error.DetailsTotal, w.Body)
		}
	})
}
