// Package allinone is `peregrine run`: the service (audit endpoint,
// admission webhook) and a node agent in one process, joined by exec
// sessions — the webhook's announcements go straight to the local agent —
// and by the pod watch, which describes the agent's containers.
package allinone
