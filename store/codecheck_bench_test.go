package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

// BenchmarkCode reads red residents' code states one after another, as
// the token route does on a miss of its code cache and the code route on
// every request: the codes row, and (since the server checks itself) the
// resident's latest code.changed entry it is checked against. 5,000
// residents, the 100 red ones read in turn.
//
//	go test -run '^$' -bench 'Code$' -count 6 ./store
func BenchmarkCode(b *testing.B) {
	const n = 5000
	run := func(b *testing.B, dsn string) {
		buildReevalDB(b, dsn, n)
		db, err := store.Open(context.Background(), dsn, store.Options{Now: func() time.Time { return reevalNow }})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		var ids []string
		for j := 0; j < n; j += 50 { // the positive ones
			ids = append(ids, benchResident(j).ID)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			id := ids[i%len(ids)]
			if _, err := db.Code(self(id), id); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("sqlite", func(b *testing.B) { run(b, filepath.Join(b.TempDir(), "code.db")) })
	b.Run("postgres", func(b *testing.B) { run(b, testdb.Postgres(b)) })
}
