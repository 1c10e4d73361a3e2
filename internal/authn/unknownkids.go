package authn

import (
	"hash/maphash"
	"time"
)

// maxUnknownKids bounds the kids a remote key set remembers as unknown,
// and the kids one fetch collects from the tokens waiting for it.
const maxUnknownKids = 1024

// unknownKids remembers the kids that a fetch did not find, each until a
// deadline, so that tokens carrying them are answered at once rather than
// joining or starting a fetch. It is bounded: past maxUnknownKids the
// oldest entry goes first (every entry lives as long, so the oldest is also
// the first to expire). Kids are kept as 64-bit hashes with a per-process
// random seed: whatever their length, an entry costs the same, and nobody
// outside can aim a kid at another's entry. It is not safe for concurrent
// use; the remote key set guards it with its mutex. The zero value is
// empty and ready.
type unknownKids struct {
	seed  maphash.Seed
	ready bool // seed is set
	// until maps a kid's hash to the UnixNano time it stops being
	// remembered.
	until map[uint64]int64
	// ring holds the entries in the order they were added; next is the
	// slot the next one overwrites once the ring is full.
	ring []unknownKid
	next int
}

// unknownKid is one remembered kid, as the ring holds it.
type unknownKid struct {
	hash  uint64
	until int64
}

// hash is the key kid is remembered under.
func (u *unknownKids) hash(kid string) uint64 {
	if !u.ready {
		u.seed = maphash.MakeSeed()
		u.ready = true
	}
	return maphash.String(u.seed, kid)
}

// has reports whether the kid hashed to h is remembered as unknown at now.
func (u *unknownKids) has(h uint64, now time.Time) bool {
	until, ok := u.until[h]
	if !ok {
		return false
	}
	if now.UnixNano() >= until {
		delete(u.until, h)
		return false
	}
	return true
}

// add remembers the kid hashed to h as unknown until the given time.
func (u *unknownKids) add(h uint64, until time.Time) {
	if u.until == nil {
		u.until = make(map[uint64]int64)
	}
	e := unknownKid{hash: h, until: until.UnixNano()}
	if len(u.ring) < maxUnknownKids {
		u.ring = append(u.ring, e)
	} else {
		// The slot's entry goes, unless its kid was added again since
		// (it then has a later slot, and a later deadline).
		if old := u.ring[u.next]; u.until[old.hash] == old.until {
			delete(u.until, old.hash)
		}
		u.ring[u.next] = e
		u.next = (u.next + 1) % maxUnknownKids
	}
	u.until[h] = e.until
}

// reset forgets every kid: the key set changed, and what it lacked before
// says nothing about what it holds now.
func (u *unknownKids) reset() {
	clear(u.until)
	u.ring = u.ring[:0]
	u.next = 0
}

// len is the number of kids remembered (expired ones included until they
// are looked up or pushed out).
func (u *unknownKids) len() int { return len(u.until) }
