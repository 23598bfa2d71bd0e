package audit

import (
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/peregrine-sec/peregrine/session"
)

// ExecSession reads what an audit event of a pods/exec request says about
// its exec session. When the admission webhook saw the request, the
// event's annotations carry the webhook's request id: the event confirms
// that session with its audit ID (confirmed). Otherwise it announces the
// session late, from the request URI's command and container (ok).
func ExecSession(e *Event) (ann session.Announcement, conf session.Confirmation, confirmed, ok bool) {
	// Every audit event passes here: the checks that reject most of them
	// read the slots the decoder located already.
	sub := str(e.hot[hotSubresource])
	if str(e.hot[hotResource]) != "pods" || (sub != "exec" && sub != "ephemeralcontainers") {
		return ann, conf, false, false
	}
	if str(e.hot[hotStage]) == "RequestReceived" {
		return ann, conf, false, false // the next stage says the same, once authorized
	}
	if code := e.v.GetInt("responseStatus", "code"); code == 401 || code == 403 {
		return ann, conf, false, false // refused: no process will start
	}
	// What comes out outlives the event, whose strings are its decoder's
	// memory: each is copied.
	if id := webhookSession(e.hot[hotAnnotations]); id != "" {
		return ann, session.Confirmation{ID: strings.Clone(id), AuditID: strings.Clone(e.AuditID())}, true, true
	}
	if sub != "exec" {
		return debugSession(e)
	}
	u, err := url.Parse(strings.Clone(str(e.hot[hotURI]))) // the query's values are substrings of it
	if err != nil {
		return ann, conf, false, false
	}
	q := u.Query()
	id := strings.Clone(e.AuditID())
	ann = session.Announcement{ID: id, AuditID: id, User: strings.Clone(str(e.hot[hotUsername])),
		Namespace: strings.Clone(str(e.hot[hotNamespace])), Pod: strings.Clone(str(e.hot[hotName])),
		Container: q.Get("container"), Command: q["command"], Time: receivedAt(e), Late: true}
	for _, g := range e.v.GetArray("user", "groups") {
		ann.Groups = append(ann.Groups, strings.Clone(str(g)))
	}
	return ann, conf, false, len(ann.Command) > 0
}

// debugSession announces late the debug container an update of
// pods/ephemeralcontainers added, when no webhook saw it: from the request
// body, which the shipped audit policy logs. kubectl debug patches (the
// patch holds the added container alone); an update holds every one, the
// added one last.
func debugSession(e *Event) (ann session.Announcement, conf session.Confirmation, confirmed, ok bool) {
	added := e.Get("requestObject", "spec", "ephemeralContainers").GetArray()
	if len(added) == 0 || str(e.hot[hotStage]) != "ResponseComplete" || e.v.GetInt("responseStatus", "code") >= 300 {
		return ann, conf, false, false
	}
	c := added[len(added)-1]
	id := strings.Clone(e.AuditID())
	ann = session.Announcement{ID: id, AuditID: id, User: strings.Clone(str(e.hot[hotUsername])),
		Namespace: strings.Clone(str(e.hot[hotNamespace])), Pod: strings.Clone(str(e.hot[hotName])),
		Container: string(c.GetStringBytes("name")), TTY: c.GetBool("tty"), Kind: session.KindDebug, Time: receivedAt(e), Late: true}
	for _, key := range []string{"command", "args"} {
		for _, v := range c.GetArray(key) {
			ann.Command = append(ann.Command, string(v.GetStringBytes()))
		}
	}
	for _, g := range e.v.GetArray("user", "groups") {
		ann.Groups = append(ann.Groups, strings.Clone(str(g)))
	}
	return ann, conf, false, ann.Container != ""
}

// receivedAt is when the apiserver received the request: the process
// starts after that, long before a session's last stage.
func receivedAt(e *Event) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, str(e.v.Get("requestReceivedTimestamp"))); err == nil {
		return t
	}
	return e.Time()
}

// webhookSession is the session id the admission webhook put in the audit
// annotations ("<webhook name>/request-id"), or "".
func webhookSession(annotations *fastjson.Value) string {
	if annotations == nil {
		return ""
	}
	o, err := annotations.Object()
	if err != nil {
		return ""
	}
	var id string
	o.Visit(func(k []byte, val *fastjson.Value) {
		if strings.HasSuffix(string(k), "/"+session.AnnotationKey) {
			id = str(val)
		}
	})
	return id
}
