// Package store owns Peregrine's memory of what it found: every alert of
// every source (audit, admission, the agents' syscall alerts) and every
// exec session, kept in an embedded SQLite database (modernc.org/sqlite:
// pure Go, WAL) or, for replicas that share one history, in PostgreSQL
// (jackc/pgx; dialect.go says what differs), and the queries the API and
// the CLI answer from it.
//
// The store is an output sink (Sink): the outputs hand it each alert as
// they hand it to stdout or a webhook, and at each flush it passes the
// batch to its writer, which commits it in one transaction. The writer's
// queue is bounded: a batch it cannot take is dropped and counted
// (peregrine_store_dropped_total), so a slow disk never holds up
// evaluation or the acknowledgements that wait for the outputs.
//
// Each alert is kept as the outputs write it (Falco's JSON), beside the
// columns the queries filter on: time, rule, priority, source, namespace,
// pod, the Kubernetes user (ka.user.name) and the exec session's user and
// id (k8s.exec.user, k8s.exec.id), and the output text. Queries are
// parameterised: no SQL is ever built from a filter's value. The schema's
// version is SQLite's user_version or PostgreSQL's peregrine_schema
// table; a newer one than this program knows is refused at startup, not
// guessed at.
//
// Beside the writer: on SQLite a checkpointer (checkpoint.go), so syncing
// the file never stalls writes; on PostgreSQL a listener (notify.go) that
// streams the alerts the other replicas write to this one's subscribers.
package store
