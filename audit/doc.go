// Package audit owns the k8s_audit source: decoding what a kube-apiserver
// audit webhook (or log backend) produces — an audit.k8s.io/v1 (or v1beta1)
// EventList, a single Event, a JSON array of events or JSON lines — and
// extracting the k8saudit plugin's ka.* and the json plugin's jevt.* fields
// from each event with the same semantics, so Falco's k8s_audit rules give
// the same alerts.
//
// Events are parsed with fastjson and every field is read from that tree:
// decoding into the typed k8s.io/apiserver structs costs 8x more per event
// (30 µs against 3.6 µs for a pod create, measured). Documents are skimmed
// first (skim.go): two thirds of a real event are its requestObject and
// responseObject, which most rules never read, so they are cut out, only
// structure-checked, and parsed when a rule reads them. Decoders are
// reused (Stream's from line to line, the audit endpoint's through a pool)
// so that an event costs a few allocations, not a tree's worth.
//
// testdata/realtraffic.jsonl.gz is a real cluster's audit log (recorded by
// internal/realnode/record-audit.sh) that the benchmarks run on.
package audit
