package store

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/peregrine-sec/peregrine/policies/rules"
)

// Stats counts the alerts a query selects, over time by priority and by
// rule: what the web UI charts.
type Stats struct {
	Step    string   `json:"step"`    // the width of a bucket, as Go writes durations
	Buckets []Bucket `json:"buckets"` // oldest first, the newest maxBuckets
	Rules   []Count  `json:"rules"`   // the most frequent first, at most maxStatsRules
}

// Bucket is the alerts of one step, by priority name and by rule (the
// chartRules most frequent; the others together as OtherRules).
type Bucket struct {
	Time   time.Time      `json:"time"`
	Counts map[string]int `json:"counts"`
	Rules  map[string]int `json:"rules"`
}

// OtherRules stands for the rules beyond the chartRules most frequent.
const OtherRules = "(other rules)"

// Count is how many alerts a rule raised.
type Count struct {
	Rule  string `json:"rule"`
	Count int    `json:"count"`
}

const (
	maxBuckets    = 500
	maxStatsRules = 20
	chartRules    = 8
)

// ParseStep reads the stats' step parameter ("" for one that makes about
// 60 buckets of the query's span).
func ParseStep(v url.Values, q Query) (time.Duration, error) {
	s := v.Get("step")
	if s == "" {
		since, until := q.Since, q.Until
		if until.IsZero() {
			until = time.Now()
		}
		if since.IsZero() {
			since = until.Add(-24 * time.Hour)
		}
		return max(until.Sub(since)/60, time.Second).Round(time.Second), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Second {
		return 0, fmt.Errorf("step: %q is not a duration of a second or more", s)
	}
	return d, nil
}

// Stats answers q (its cursor and limit aside) in buckets of step.
func (s *Store) Stats(ctx context.Context, q Query, step time.Duration) (Stats, error) {
	q.Cursor = ""
	where, args, err := q.where(s.d)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Step: step.String(), Buckets: []Bucket{}, Rules: []Count{}}
	if st.Rules, err = s.ruleCounts(ctx, where, args, maxStatsRules); err != nil {
		return st, err
	}
	top := map[string]bool{}
	for _, c := range st.Rules[:min(chartRules, len(st.Rules))] {
		top[c.Rule] = true
	}
	rows, err := s.db.QueryContext(ctx, s.d.bind(`SELECT time / ? AS b, priority, rule, COUNT(*) FROM alerts`+where+
		` GROUP BY b, priority, rule ORDER BY b DESC LIMIT ?`), append([]any{step.Nanoseconds()}, append(args, maxBuckets*64)...)...)
	if err != nil {
		return st, fmt.Errorf("store: stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b, prio int64
		var rule string
		var n int
		if err := rows.Scan(&b, &prio, &rule, &n); err != nil {
			return st, fmt.Errorf("store: stats: %w", err)
		}
		t := time.Unix(0, b*step.Nanoseconds()).UTC()
		if len(st.Buckets) == 0 || !st.Buckets[len(st.Buckets)-1].Time.Equal(t) {
			if len(st.Buckets) == maxBuckets {
				break
			}
			st.Buckets = append(st.Buckets, Bucket{Time: t, Counts: map[string]int{}, Rules: map[string]int{}})
		}
		if !top[rule] {
			rule = OtherRules
		}
		last := &st.Buckets[len(st.Buckets)-1]
		last.Counts[rules.Priority(prio).String()] += n
		last.Rules[rule] += n
	}
	slices.Reverse(st.Buckets) // oldest first, as a chart reads
	return st, rows.Err()
}

// RuleHits is how many stored alerts each rule raised.
func (s *Store) RuleHits(ctx context.Context) (map[string]int, error) {
	counts, err := s.ruleCounts(ctx, "", nil, 0)
	hits := make(map[string]int, len(counts))
	for _, c := range counts {
		hits[c.Rule] = c.Count
	}
	return hits, err
}

func (s *Store) ruleCounts(ctx context.Context, where string, args []any, limit int) ([]Count, error) {
	q := `SELECT rule, COUNT(*) AS n FROM alerts` + where + ` GROUP BY rule ORDER BY n DESC, rule`
	if limit > 0 {
		q, args = q+` LIMIT ?`, append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, s.d.bind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("store: rule counts: %w", err)
	}
	defer rows.Close()
	out := []Count{}
	for rows.Next() {
		var c Count
		if err := rows.Scan(&c.Rule, &c.Count); err != nil {
			return nil, fmt.Errorf("store: rule counts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
