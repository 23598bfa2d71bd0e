package webhook

import (
	"strings"

	"github.com/valyala/fastjson"

	"github.com/peregrine-sec/peregrine/audit"
	"github.com/peregrine-sec/peregrine/policies/engine"
	"github.com/peregrine-sec/peregrine/policies/fields"
)

type acc = engine.Accessor[Request]

// Source is the k8s_admission source as the rule engine sees it: adm.*
// fields read the AdmissionReview, every other field reads the request's
// audit view through the k8s_audit source.
type Source struct {
	audit audit.Source
}

// Name implements engine.Source.
func (*Source) Name() string { return fields.SourceK8sAdmission }

// TypeCodes implements engine.Source: admission requests have no types.
func (*Source) TypeCodes() map[string]int { return nil }

// TypeCode implements engine.Source.
func (*Source) TypeCode(*Request) int { return 0 }

// Accessor implements engine.Source.
func (s *Source) Accessor(f *fields.Field, arg string) (acc, bool) {
	if mk, ok := admFields[f.Name]; ok {
		return mk(arg)
	}
	a, ok := s.audit.Accessor(f, arg)
	if !ok {
		return acc{}, false
	}
	return engine.Adapt(a, func(r *Request) *audit.Event { return r.audit }), true
}

// Extracted reports whether the source reads a field.
func Extracted(name string) bool {
	_, ok := admFields[name]
	return ok || audit.Extracted(name)
}

func str(f func(*Request) (string, bool)) func(string) (acc, bool) {
	return func(arg string) (acc, bool) { return acc{Kind: engine.KindString, Str: f}, arg == "" }
}

func boolean(f func(*Request) (bool, bool)) func(string) (acc, bool) {
	return func(arg string) (acc, bool) {
		return acc{Kind: engine.KindInt, Int: func(r *Request) (int64, bool) {
			b, ok := f(r)
			if b {
				return 1, ok
			}
			return 0, ok
		}}, arg == ""
	}
}

func list(f func(*Request) []string) func(string) (acc, bool) {
	return func(arg string) (acc, bool) {
		return acc{Kind: engine.KindList, N: func(r *Request) int { return len(f(r)) },
			At: func(r *Request, i int) string { return f(r)[i] }}, arg == ""
	}
}

func isConnect(r *Request) bool { return r.Req.Operation == "CONNECT" }

var admFields = map[string]func(string) (acc, bool){
	"adm.uid":          str(func(r *Request) (string, bool) { return string(r.Req.UID), true }),
	"adm.id":           str(func(r *Request) (string, bool) { return r.ID, true }),
	"adm.operation":    str(func(r *Request) (string, bool) { return string(r.Req.Operation), true }),
	"adm.kind":         str(func(r *Request) (string, bool) { return r.Req.Kind.Kind, r.Req.Kind.Kind != "" }),
	"adm.kind.group":   str(func(r *Request) (string, bool) { return r.Req.Kind.Group, true }),
	"adm.kind.version": str(func(r *Request) (string, bool) { return r.Req.Kind.Version, r.Req.Kind.Version != "" }),
	"adm.user.uid":     str(func(r *Request) (string, bool) { return r.Req.UserInfo.UID, r.Req.UserInfo.UID != "" }),
	"adm.dry_run": boolean(func(r *Request) (bool, bool) {
		return r.Req.DryRun != nil && *r.Req.DryRun, true
	}),
	"adm.object": str(func(r *Request) (string, bool) {
		return string(r.Req.Object.Raw), len(r.Req.Object.Raw) > 0
	}),
	"adm.old_object": str(func(r *Request) (string, bool) {
		return string(r.Req.OldObject.Raw), len(r.Req.OldObject.Raw) > 0
	}),
	"adm.object.value":     pointer(func(r *Request) *fastjson.Value { return r.audit.Get("requestObject") }),
	"adm.old_object.value": pointer(func(r *Request) *fastjson.Value { return r.old }),
	"adm.exec.command": list(func(r *Request) []string {
		if !isConnect(r) {
			return nil
		}
		return r.options.Command
	}),
	"adm.exec.command_line": str(func(r *Request) (string, bool) {
		return strings.Join(r.options.Command, " "), isConnect(r) && len(r.options.Command) > 0
	}),
	"adm.exec.container": str(func(r *Request) (string, bool) {
		return r.options.Container, isConnect(r) && r.options.Container != ""
	}),
	"adm.exec.tty": boolean(func(r *Request) (bool, bool) {
		return r.options.TTY != nil && *r.options.TTY, isConnect(r) && r.options.TTY != nil
	}),
	"adm.exec.stdin": boolean(func(r *Request) (bool, bool) {
		return r.options.Stdin != nil && *r.options.Stdin, isConnect(r) && r.options.Stdin != nil
	}),
	"adm.portforward.ports":             list(func(r *Request) []string { return r.ports }),
	"adm.pod.image_tags":                list(func(r *Request) []string { return r.pod().tags }),
	"adm.pod.containers_without_limits": list(func(r *Request) []string { return r.pod().noLimits }),
	"adm.ephemeral.name":                ephemeral("name"),
	"adm.ephemeral.image":               ephemeral("image"),
	"adm.ephemeral.image.repository":    ephemeral("image.repository"),
	"adm.ephemeral.privileged":          ephemeral("privileged"),
	"adm.ephemeral.add_capabilities":    ephemeral("add_capabilities"),
	"adm.ephemeral.run_as_user":         ephemeral("eff_run_as_user"),
	"adm.ephemeral.target":              ephemeral(targetProperty),
	"adm.ephemeral.command":             ephemeral(commandProperty),
}

// ephemeral reads a property of every ephemeral container the request
// adds (computed once per request, in pod).
func ephemeral(prop string) func(string) (acc, bool) {
	return list(func(r *Request) []string { return r.pod().ephemeral[prop] })
}

// pointer reads an RFC 6901 pointer into a JSON document of the request.
func pointer(doc func(*Request) *fastjson.Value) func(string) (acc, bool) {
	return func(ptr string) (acc, bool) {
		keys, ok := audit.ParsePointer(ptr)
		if !ok || len(keys) == 0 {
			return acc{}, false
		}
		return acc{Kind: engine.KindString, Str: func(r *Request) (string, bool) {
			return audit.Text(doc(r).Get(keys...))
		}}, true
	}
}
