package audit

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/peregrine-sec/peregrine/policies/engine"
)

// stringFields are the single-valued ka.* and jevt.* fields.
var stringFields = map[string]func(arg string) (acc, bool){
	"ka.auditid":                              strAt("auditID"),
	"ka.stage":                                strAt("stage"),
	"ka.auth.decision":                        strAt("annotations", "authorization.k8s.io/decision"),
	"ka.auth.reason":                          strAt("annotations", "authorization.k8s.io/reason"),
	"ka.auth.openshift.decision":              strAt("annotations", "authentication.openshift.io/decision"),
	"ka.auth.openshift.username":              strAt("annotations", "authentication.openshift.io/username"),
	"ka.validations.admission.policy.failure": strAt("annotations", "validation.policy.admission.k8s.io/validation_failure"),
	"ka.security.pod.violations":              strAt("annotations", "pod-security.kubernetes.io/audit-violations"),
	"ka.cluster.name":                         strAt("annotations", "cluster_name"),
	"ka.user.name":                            strAt("user", "username"),
	"ka.impuser.name":                         strAt("impersonatedUser", "username"),
	"ka.verb":                                 strAt("verb"),
	"ka.uri":                                  strAt("requestURI"),
	"ka.target.name":                          strAt("objectRef", "name"),
	"ka.target.namespace":                     strAt("objectRef", "namespace"),
	"ka.target.resource":                      strAt("objectRef", "resource"),
	"ka.target.subresource":                   strAt("objectRef", "subresource"),
	"ka.req.binding.role":                     strAt("requestObject", "roleRef", "name"),
	"ka.req.configmap.name":                   strAt("objectRef", "name"),
	"ka.req.configmap.obj":                    strAt("requestObject", "data"),
	"ka.req.pod.host_ipc":                     strAt("requestObject", "spec", "hostIPC"),
	"ka.req.pod.host_network":                 strAt("requestObject", "spec", "hostNetwork"),
	"ka.req.container.host_network":           strAt("requestObject", "spec", "hostNetwork"),
	"ka.req.pod.host_pid":                     strAt("requestObject", "spec", "hostPID"),
	"ka.req.pod.run_as_user":                  strAt("requestObject", "spec", "securityContext", "runAsUser"),
	"ka.req.pod.run_as_group":                 strAt("requestObject", "spec", "securityContext", "runAsGroup"),
	"ka.req.pod.fs_group":                     strAt("requestObject", "spec", "securityContext", "fsGroup"),
	"ka.req.service.type":                     strAt("requestObject", "spec", "type"),
	"ka.resp.name":                            strAt("responseObject", "metadata", "name"),
	"ka.response.code":                        strAt("responseStatus", "code"),
	"ka.response.reason":                      strAt("responseStatus", "reason"),
	"ka.useragent":                            strAt("userAgent"),
	"ka.uri.param":                            uriParam,
	"ka.target.pod.name":                      noArg(targetPodName),
	"ka.req.binding.subject.has_name":         func(arg string) (acc, bool) { return constant("true"), arg != "" },
	"ka.req.container.image":                  noArg(firstContainer(imageOf)),
	"ka.req.container.image.repository":       noArg(firstContainer(func(v *fastjson.Value) (string, bool) { s, ok := imageOf(v); return repository(s), ok })),
	"ka.req.container.privileged":             noArg(anyPrivileged),
	"ka.req.volume.hostpath":                  volumeHostPath,
	"jevt.value":                              jsonPointer,
	"json.value":                              jsonPointer,
	"jevt.obj":                                noArg(wholeJSON),
	"json.obj":                                noArg(wholeJSON),
	"jevt.rawtime":                            rawTime,
	"json.rawtime":                            rawTime,
}

func noArg(f func(*Event) (string, bool)) func(string) (acc, bool) {
	return func(arg string) (acc, bool) { return strFunc(f), arg == "" }
}

func constant(s string) acc { return strFunc(func(*Event) (string, bool) { return s, true }) }

func uriParam(key string) (acc, bool) {
	return strFunc(func(e *Event) (string, bool) {
		uri := str(e.hot[hotURI])
		_, rawQuery, found := strings.Cut(uri, "?")
		if !found {
			return "", false
		}
		q, err := url.ParseQuery(rawQuery)
		if err != nil || len(q[key]) == 0 {
			return "", false
		}
		return q[key][0], true
	}), key != ""
}

// targetPodName is the created pod's name: only for pods, not subresources.
func targetPodName(e *Event) (string, bool) {
	if str(e.get("objectRef", "resource")) != "pods" || e.get("objectRef", "subresource") != nil {
		return "", false
	}
	return text(e.get("responseObject", "metadata", "name"))
}

func imageOf(c *fastjson.Value) (string, bool) { return text(c.Get("image")) }

// repository strips the tag and digest from an image reference the way the
// k8saudit plugin does (everything from the first ':' or '@').
func repository(image string) string {
	image, _, _ = strings.Cut(image, ":")
	image, _, _ = strings.Cut(image, "@")
	return image
}

func firstContainer(f func(*fastjson.Value) (string, bool)) func(*Event) (string, bool) {
	return func(e *Event) (string, bool) {
		cs := e.get("requestObject").GetArray("spec", "containers")
		if len(cs) == 0 {
			return "", false
		}
		return f(cs[0])
	}
}

func anyPrivileged(e *Event) (string, bool) {
	cs := e.get("requestObject", "spec", "containers")
	if cs == nil || cs.Type() != fastjson.TypeArray {
		return "", false
	}
	for _, c := range cs.GetArray() {
		if c.GetBool("securityContext", "privileged") {
			return "true", true
		}
	}
	return "false", true
}

// volumeHostPath is "true" when a hostPath volume uses the path given as
// the argument (a trailing '*' makes it a prefix), "false" otherwise.
func volumeHostPath(arg string) (acc, bool) {
	prefix, isPrefix := strings.CutSuffix(arg, "*")
	return strFunc(func(e *Event) (string, bool) {
		vols := e.get("requestObject", "spec", "volumes")
		if vols == nil || vols.Type() != fastjson.TypeArray {
			return "", false
		}
		for _, v := range vols.GetArray() {
			p := str(v.Get("hostPath", "path"))
			if p != "" && (p == arg || isPrefix && strings.HasPrefix(p, prefix)) {
				return "true", true
			}
		}
		return "false", true
	}), arg != ""
}

// ParsePointer splits an RFC 6901 JSON pointer ("/a/b~1c") into keys.
func ParsePointer(ptr string) ([]string, bool) {
	if ptr == "" {
		return nil, true
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, false
	}
	var keys []string
	for _, k := range strings.Split(ptr[1:], "/") {
		keys = append(keys, strings.NewReplacer("~1", "/", "~0", "~").Replace(k))
	}
	return keys, true
}

// jsonPointer reads an RFC 6901 pointer, e.g. jevt.value[/user/username].
func jsonPointer(ptr string) (acc, bool) {
	keys, ok := ParsePointer(ptr)
	if !ok {
		return acc{}, false
	}
	get := getter(keys...)
	return strFunc(func(e *Event) (string, bool) { return text(get(e)) }), true
}

// Text renders a JSON value as the k8saudit plugin does (strings as they
// are, anything else as JSON); false when v is nil.
func Text(v *fastjson.Value) (string, bool) { return text(v) }

func wholeJSON(e *Event) (string, bool) { return string(e.whole().MarshalTo(nil)), true }

// rawTime is the event time in nanoseconds, as text: the catalogue types
// it CHARBUF, as the plugin does, so that it compares as a string. Has
// spares "jevt.rawtime exists" (a common always-true macro) the
// formatting.
func rawTime(arg string) (acc, bool) {
	has := func(e *Event) bool { return valid(e) && !e.Time().IsZero() }
	return acc{Kind: engine.KindString, Has: has, Str: func(e *Event) (string, bool) {
		if !has(e) {
			return "", false
		}
		return strconv.FormatInt(e.Time().UnixNano(), 10), true
	}}, arg == ""
}
