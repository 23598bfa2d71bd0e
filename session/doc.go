// Package session owns exec-session correlation: who ran this shell?
//
// The apiserver asks the admission webhook about every CONNECT pods/exec
// before the kubelet starts the process; the webhook turns that request
// into an Announcement (user, groups, pod, container, command) and routes
// it to the agent on the pod's node. There a Registry binds the first new
// process in that container whose argv is the command and whose parent is
// outside the container's init tree; every descendant shares the binding
// through the Slot its process tree carries. The audit event of the same
// request confirms the session with its audit ID (the webhook's audit
// annotation carries the session id into it); without a webhook, the audit
// event alone announces the session, late, and binds a process that
// already ran. The process may win that race with the webhook's
// announcement too (the kubelet starts it in tens of milliseconds), and
// by then its tree may have exec'd again (sh -c 'cat f' becomes cat f):
// a slot remembers every command its tree ran while unbound. Identical commands racing in one container are bound
// first-come and flagged, never guessed silently.
package session
