package web

import (
	"context"
	"sync"
	"time"

	"github.com/healthcode/healthcode/store"
)

// statsTTL is how long the statistics pages reuse store.Stats: it scans
// every resident, and /stats is public, so a visitor reloading it must not
// cost a scan each time.
const statsTTL = time.Minute

// statsCache holds the last store.Stats and when it was computed.
type statsCache struct {
	mu sync.Mutex
	at time.Time
	st *store.Stats
}

// stats returns the public statistics, at most statsTTL old. Concurrent
// callers of an expired cache wait for one computation.
func (p *Pages) stats(ctx context.Context) (*store.Stats, error) {
	c := &p.statsCache
	c.mu.Lock()
	defer c.mu.Unlock()
	now := p.opts.Now()
	if c.st != nil && now.Sub(c.at) < statsTTL && !now.Before(c.at) {
		return c.st, nil
	}
	st, err := p.db.Stats(ctx)
	if err != nil {
		return nil, err
	}
	c.st, c.at = st, now
	return st, nil
}
