package web

import (
	"context"
	"sync"
	"time"

	"github.com/healthcode/healthcode/internal/ttlcache"
	"github.com/healthcode/healthcode/store"
)

// statsTTL is how long the statistics pages reuse store.Stats: it scans
// every resident, and /stats is public, so a visitor reloading it must not
// cost a scan each time.
const statsTTL = time.Minute

// statsCache holds the last store.Stats; mu makes concurrent callers of an
// expired cache wait for one computation.
type statsCache struct {
	mu    sync.Mutex
	cache *ttlcache.Cache[struct{}, *store.Stats]
}

func newStatsCache() statsCache {
	return statsCache{cache: ttlcache.New[struct{}, *store.Stats](statsTTL, 1)}
}

// stats returns the public statistics, at most statsTTL old.
func (p *Pages) stats(ctx context.Context) (*store.Stats, error) {
	c := &p.statsCache
	c.mu.Lock()
	defer c.mu.Unlock()
	now := p.opts.Now()
	if st, ok := c.cache.Get(struct{}{}, now); ok {
		return st, nil
	}
	st, err := p.db.Stats(ctx)
	if err != nil {
		return nil, err
	}
	c.cache.Put(struct{}{}, st, now)
	return st, nil
}
