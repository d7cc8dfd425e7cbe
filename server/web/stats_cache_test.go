package web

import (
	"context"
	"testing"
	"time"

	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

// TestStatsCache checks the statistics are computed once a minute at most.
func TestStatsCache(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, testdb.SQLite(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2022, 6, 14, 8, 0, 0, 0, time.UTC)
	p, err := New(db, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	first, err := p.stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(statsTTL - time.Second)
	if again, _ := p.stats(ctx); again != first {
		t.Error("recomputed within the minute")
	}
	now = now.Add(2 * time.Second)
	if later, _ := p.stats(ctx); later == first {
		t.Error("not recomputed after a minute")
	}
}
