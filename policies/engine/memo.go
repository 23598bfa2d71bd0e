package engine

import "github.com/peregrine-sec/peregrine/policies/condition"

// Macros are expanded by sharing: every rule that names a macro points at
// the same AST node. The engine evaluates such a shared node at most once
// per event and reuses the result for the other rules, which is what makes
// stacks of rules built on the same macros (kevt, spawned_process,
// container, ...) cheap.

// memo holds the per-event results of shared nodes. A result is valid when
// its generation is the current event's.
type memo struct {
	gen   uint32
	slots []memoSlot
}

type memoSlot struct {
	gen uint32
	val bool
}

// sharedNodes finds the nodes reachable from more than one place.
func sharedNodes(roots []condition.Expr) map[condition.Expr]int {
	seen := map[condition.Expr]int{}
	for _, r := range roots {
		condition.Walk(r, func(e condition.Expr) bool {
			seen[e]++
			if seen[e] > 1 {
				return false // its subtree is counted already
			}
			switch e.(type) {
			case *condition.And, *condition.Or, *condition.Not:
				return true
			}
			return false
		})
	}
	ids := map[condition.Expr]int{}
	for e, n := range seen {
		if _, logical := e.(*condition.Identifier); n > 1 && !logical {
			ids[e] = len(ids)
		}
	}
	return ids
}

// memoized wraps the predicate of shared node id.
func memoized[E any](m *memo, id int, p pred[E]) pred[E] {
	return func(ev *E) bool {
		s := &m.slots[id]
		if s.gen == m.gen {
			return s.val
		}
		v := p(ev)
		s.gen, s.val = m.gen, v
		return v
	}
}
