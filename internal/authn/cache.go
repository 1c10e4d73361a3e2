package authn

import "sync"

// boundCache is a provider's verified-token cache with the key set it
// belongs to.
type boundCache struct {
	ks *keySet
	c  *tokenCache
}

// tokenCache returns the provider's verified-token cache for ks, nil when
// the cache is disabled. A key set newer than the cache's gets a new
// cache holding the entries whose key is in it unchanged (see carry); a
// request still holding an older set than the cache's (one that started
// before a fetch brought the newer) gets none, so that it neither reads
// nor fills a cache of another key set.
func (p *Provider) tokenCache(ks *keySet) *tokenCache {
	if p.cacheSize <= 0 {
		return nil
	}
	for {
		cur := p.cache.Load()
		if cur != nil {
			if cur.ks == ks {
				return cur.c
			}
			if cur.ks.gen > ks.gen {
				return nil
			}
		}
		next := &boundCache{ks: ks, c: newTokenCache(p.cacheSize)}
		if cur != nil {
			cur.c.carry(next.c, ks)
		}
		if p.cache.CompareAndSwap(cur, next) {
			return next.c
		}
	}
}

// defaultCacheSize is the number of verified tokens a provider remembers.
const defaultCacheSize = 4096

// cacheEntry is one verified token. Entries form a doubly linked list,
// most recently used first.
type cacheEntry struct {
	key        string
	id         *Identity
	fp         keyFP // the key that verified the token
	nbf, exp   int64
	hasNbf     bool
	hasExp     bool
	prev, next *cacheEntry
}

// tokenCache is a bounded LRU of verified tokens, keyed by the token
// string. It belongs to one provider (a token verified by one provider
// passed that provider's checks only) and to one key set: a key set
// change keeps only the tokens whose key it still holds unchanged. It is
// safe for concurrent use.
type tokenCache struct {
	mu   sync.Mutex
	max  int
	m    map[string]*cacheEntry
	head *cacheEntry // most recently used
	tail *cacheEntry // least recently used
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, m: make(map[string]*cacheEntry, min(max, 1024))}
}

// get returns the entry for tok, marking it recently used. The returned
// entry's fields other than the links are immutable.
func (c *tokenCache) get(tok string) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[tok]
	if e != nil && e != c.head {
		c.unlink(e)
		c.pushFront(e)
	}
	return e
}

// put remembers a verified token, evicting the least recently used entry
// when full.
func (c *tokenCache) put(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[e.key]; old != nil {
		c.unlink(old)
		delete(c.m, old.key)
	}
	for len(c.m) >= c.max && c.tail != nil {
		t := c.tail
		c.unlink(t)
		delete(c.m, t.key)
	}
	c.m[e.key] = e
	c.pushFront(e)
}

// carry copies into next, an empty cache for the key set ks, the entries
// whose verifying key ks holds unchanged (same kid, alg, type and
// material): ks would verify those tokens again with that key. Tokens of
// a key that left the set, or whose material changed, are not carried
// and must verify again. The order of use is kept.
func (c *tokenCache) carry(next *tokenCache, ks *keySet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.tail; e != nil; e = e.prev {
		if _, ok := ks.fps[e.fp]; ok {
			next.put(&cacheEntry{key: e.key, id: e.id, fp: e.fp, nbf: e.nbf, exp: e.exp, hasNbf: e.hasNbf, hasExp: e.hasExp})
		}
	}
}

// remove forgets tok.
func (c *tokenCache) remove(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[tok]; e != nil {
		c.unlink(e)
		delete(c.m, tok)
	}
}

// len is the number of entries.
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *tokenCache) unlink(e *cacheEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		c.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		c.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (c *tokenCache) pushFront(e *cacheEntry) {
	e.next = c.head
	if c.head != nil {
		c.head.prev = e
	}
	c.head = e
	if c.tail == nil {
		c.tail = e
	}
}
