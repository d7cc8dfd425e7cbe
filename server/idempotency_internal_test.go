package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

// TestKeyInFlight is a request whose Idempotency-Key is the one of a
// request still being served: 409, without running the handler; the
// same key from another actor, or once the first was answered, runs.
func TestKeyInFlight(t *testing.T) {
	db, err := store.Open(context.Background(), testdb.SQLite(t), store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := New(db, Config{Logger: slog.New(slog.DiscardHandler)})
	entered, release := make(chan struct{}), make(chan struct{})
	runs := 0
	h := s.keyed("POST /v1/appeals", answerAppeal, func(w http.ResponseWriter, r *http.Request) {
		runs++
		if r.Header.Get("X-Block") != "" {
			close(entered)
			<-release
		}
		w.WriteHeader(http.StatusNoContent)
	})
	serve := func(actor, block string) int {
		r := httptest.NewRequest("POST", "/v1/appeals", strings.NewReader(`{}`))
		r.Header.Set("Idempotency-Key", `"k-1"`)
		if block != "" {
			r.Header.Set("X-Block", block)
		}
		r = r.WithContext(healthcode.NewContext(r.Context(), healthcode.Actor{Kind: healthcode.ActorResident, ID: actor}))
		w := httptest.NewRecorder()
		h(w, r)
		return w.Code
	}
	first := make(chan int)
	go func() { first <- serve("r_1", "yes") }()
	<-entered
	if got := serve("r_1", ""); got != http.StatusConflict {
		t.Errorf("the same key while the first is served: %d, want 409", got)
	}
	if got := serve("r_2", ""); got != http.StatusNoContent {
		t.Errorf("another actor's same key meanwhile: %d, want it served (204)", got)
	}
	close(release)
	if got := <-first; got != http.StatusNoContent {
		t.Errorf("the first: %d, want 204", got)
	}
	if got := serve("r_1", ""); got != http.StatusNoContent {
		t.Errorf("the same key once the first was answered: %d, want it served (its handler here stores nothing)", got)
	}
	if runs != 3 {
		t.Errorf("the handler ran %d times, want 3", runs)
	}
}
