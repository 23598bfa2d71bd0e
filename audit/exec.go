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
	v := e.v
	if str(v.Get("objectRef", "resource")) != "pods" || str(v.Get("objectRef", "subresource")) != "exec" {
		return ann, conf, false, false
	}
	if stage := str(v.Get("stage")); stage == "RequestReceived" {
		return ann, conf, false, false // the next stage says the same, once authorized
	}
	if code := v.GetInt("responseStatus", "code"); code == 401 || code == 403 {
		return ann, conf, false, false // refused: no process will start
	}
	if ann := v.Get("annotations"); ann != nil {
		if o, err := ann.Object(); err == nil {
			var id string
			o.Visit(func(k []byte, val *fastjson.Value) {
				if strings.HasSuffix(string(k), "/"+session.AnnotationKey) {
					id = str(val)
				}
			})
			if id != "" {
				return session.Announcement{}, session.Confirmation{ID: id, AuditID: e.AuditID()}, true, true
			}
		}
	}
	u, err := url.Parse(str(v.Get("requestURI")))
	if err != nil {
		return ann, conf, false, false
	}
	q := u.Query()
	ann = session.Announcement{ID: e.AuditID(), AuditID: e.AuditID(), User: str(v.Get("user", "username")),
		Namespace: str(v.Get("objectRef", "namespace")), Pod: str(v.Get("objectRef", "name")),
		Container: q.Get("container"), Command: q["command"], Time: e.Time(), Late: true}
	// The process starts after the request is received, long before a
	// session's last stage.
	if t, err := time.Parse(time.RFC3339Nano, str(v.Get("requestReceivedTimestamp"))); err == nil {
		ann.Time = t
	}
	for _, g := range v.GetArray("user", "groups") {
		ann.Groups = append(ann.Groups, str(g))
	}
	return ann, conf, false, len(ann.Command) > 0
}
