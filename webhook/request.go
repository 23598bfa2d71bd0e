package webhook

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/peregrine-sec/peregrine/audit"
	"github.com/peregrine-sec/peregrine/session"
)

// Request is one admission request as the rules see it.
type Request struct {
	Req *admissionv1.AdmissionRequest
	// ID is Peregrine's id for the request, returned in auditAnnotations so
	// the audit event of the same request can be joined to it.
	ID string
	// audit is the request seen as an audit event, for the ka.* fields.
	audit   *audit.Event
	old     *fastjson.Value
	options connectOptions
	ports   []string  // options.Ports as text, for adm.portforward.ports
	facts   *podFacts // see pod.go
}

// connectOptions are the options of a CONNECT (PodExecOptions,
// PodAttachOptions, PodPortForwardOptions).
type connectOptions struct {
	Command   []string `json:"command"`
	Container string   `json:"container"`
	Stdin     *bool    `json:"stdin"`
	TTY       *bool    `json:"tty"`
	Ports     []int32  `json:"ports"`
}

// DecodeReview parses an AdmissionReview v1 body.
func DecodeReview(body []byte) (*admissionv1.AdmissionReview, error) {
	var rev admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &rev); err != nil {
		return nil, fmt.Errorf("malformed AdmissionReview: %w", err)
	}
	if rev.APIVersion != "admission.k8s.io/v1" || rev.Kind != "AdmissionReview" {
		return nil, fmt.Errorf("unsupported review %q %q: want admission.k8s.io/v1 AdmissionReview", rev.APIVersion, rev.Kind)
	}
	if rev.Request == nil {
		return nil, errors.New("AdmissionReview has no request")
	}
	if rev.Request.UID == "" {
		return nil, errors.New("AdmissionReview request has no uid")
	}
	return &rev, nil
}

// NewRequest prepares a request for evaluation.
func NewRequest(r *admissionv1.AdmissionRequest, now time.Time) (*Request, error) {
	req := &Request{Req: r, ID: newID()}
	if r.Operation == admissionv1.Connect && len(r.Object.Raw) > 0 {
		if err := json.Unmarshal(r.Object.Raw, &req.options); err != nil {
			return nil, fmt.Errorf("CONNECT options: %w", err)
		}
		for _, p := range req.options.Ports {
			req.ports = append(req.ports, strconv.Itoa(int(p)))
		}
	}
	if len(r.OldObject.Raw) > 0 {
		v, err := fastjson.ParseBytes(r.OldObject.Raw)
		if err != nil {
			return nil, fmt.Errorf("oldObject: %w", err)
		}
		req.old = v
	}
	ev, err := audit.NewEvent(req.auditView(now))
	if err != nil {
		return nil, fmt.Errorf("admission request: %w", err)
	}
	req.audit = ev
	return req, nil
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// auditView renders the request as the audit event the apiserver would
// write for it, so that ka.* fields and audit macros read it unchanged.
// There is no stage: stage-based audit macros (kevt) do not match.
func (r *Request) auditView(now time.Time) []byte {
	q := r.Req
	ev := map[string]any{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
		"auditID": string(q.UID), "verb": verb(q.Operation), "requestURI": r.uri(),
		"user": q.UserInfo, "stageTimestamp": now.UTC().Format(time.RFC3339Nano),
		"objectRef": nonEmpty(map[string]string{"resource": q.Resource.Resource, "subresource": q.SubResource,
			"namespace": q.Namespace, "name": q.Name, "apiGroup": q.Resource.Group, "apiVersion": q.Resource.Version}),
	}
	if q.Operation != admissionv1.Connect && len(q.Object.Raw) > 0 {
		ev["requestObject"] = json.RawMessage(q.Object.Raw)
	}
	b, _ := json.Marshal(ev) // maps of strings and raw JSON the apiserver sent: cannot fail
	return b
}

// nonEmpty drops empty values: the audit event omits them, and a present
// empty subresource would make "ka.target.subresource exists" true.
func nonEmpty(m map[string]string) map[string]string {
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

// verb maps an admission operation to the audit verb of its request.
func verb(op admissionv1.Operation) string {
	if op == admissionv1.Connect {
		return "create" // exec, attach and port-forward are POSTs
	}
	return strings.ToLower(string(op))
}

// uri rebuilds the request URI, with a CONNECT's options as query
// parameters, as in the audit event (ka.uri.param[command] works).
func (r *Request) uri() string {
	q := r.Req
	path := "/api/" + q.Resource.Version
	if q.Resource.Group != "" {
		path = "/apis/" + q.Resource.Group + "/" + q.Resource.Version
	}
	if q.Namespace != "" {
		path += "/namespaces/" + q.Namespace
	}
	path += "/" + q.Resource.Resource
	if q.Name != "" {
		path += "/" + q.Name
	}
	if q.SubResource != "" {
		path += "/" + q.SubResource
	}
	if q.Operation != admissionv1.Connect {
		return path
	}
	v := url.Values{}
	for _, c := range r.options.Command {
		v.Add("command", c)
	}
	if r.options.Container != "" {
		v.Set("container", r.options.Container)
	}
	if r.options.Stdin != nil {
		v.Set("stdin", fmt.Sprint(*r.options.Stdin))
	}
	if r.options.TTY != nil {
		v.Set("tty", fmt.Sprint(*r.options.TTY))
	}
	if enc := v.Encode(); enc != "" {
		path += "?" + enc
	}
	return path
}

// execAnnouncement is the session a CONNECT pods/exec or pods/attach
// request is about to start, with the request's id as the session's. An
// attach starts no process: it is announced, and agents bind nothing to it.
// sessionAnnouncements are the sessions a request starts: an exec or an
// attach, or a debug session per ephemeral container an update of
// pods/ephemeralcontainers (kubectl debug) adds.
func (r *Request) sessionAnnouncements() []session.Announcement {
	if a, ok := r.execAnnouncement(); ok {
		return []session.Announcement{a}
	}
	return r.debugAnnouncements()
}

func (r *Request) execAnnouncement() (session.Announcement, bool) {
	q := r.Req
	attach := q.SubResource == "attach"
	if q.Operation != admissionv1.Connect || q.Resource.Resource != "pods" || (q.SubResource != "exec" && !attach) {
		return session.Announcement{}, false
	}
	return session.Announcement{ID: r.ID, User: q.UserInfo.Username, Groups: q.UserInfo.Groups, Namespace: q.Namespace,
			Pod: q.Name, Container: r.options.Container, Command: r.options.Command, Attach: attach,
			TTY: r.options.TTY != nil && *r.options.TTY, Time: time.Now()},
		attach || len(r.options.Command) > 0
}
