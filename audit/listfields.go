package audit

import (
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
)

// listFields returns how to build a list field's reader from its argument.
func listFields(name string) (func(arg string) (listFunc, bool), bool) {
	if f, ok := simpleLists[name]; ok {
		return func(arg string) (listFunc, bool) { return f, arg == "" }, true
	}
	if f, ok := indexedLists[name]; ok {
		return indexed(f), true
	}
	for _, kind := range []string{"containers", "initContainers", "ephemeralContainers"} {
		if sub, ok := strings.CutPrefix(name, "ka.req.pod."+kind+"."); ok {
			if f, ok := containerLists[sub]; ok && !(kind == "ephemeralContainers" && sub == "host_port") {
				spec := kind
				return indexed(func(e *Event, idx int) ([]string, bool) {
					return f(e.get("requestObject", "spec"), containers(e, spec, idx))
				}), true
			}
		}
	}
	return nil, false
}

var simpleLists = map[string]listFunc{
	"ka.user.groups":                                  listAt("user", "groups"),
	"ka.req.binding.subjects":                         listAt("requestObject", "subjects"),
	"ka.req.role.rules":                               listAt("requestObject", "rules"),
	"ka.req.pod.supplemental_groups":                  listAt("requestObject", "spec", "securityContext", "supplementalGroups"),
	"ka.req.binding.subjects.user_names":              subjects("User", false),
	"ka.req.binding.subjects.group_names":             subjects("Group", false),
	"ka.req.binding.subjects.serviceaccount_names":    subjects("ServiceAccount", false),
	"ka.req.binding.subjects.serviceaccount_ns_names": subjects("ServiceAccount", true),
}

// indexedLists take an optional [N] that keeps only element N.
var indexedLists = map[string]func(*Event, int) ([]string, bool){
	"ka.sourceips": func(e *Event, i int) ([]string, bool) { return texts(pick(e.v.Get("sourceIPs"), i)) },
	"ka.req.service.ports": func(e *Event, i int) ([]string, bool) {
		return texts(pick(e.get("requestObject", "spec", "ports"), i))
	},
	"ka.req.role.rules.apiGroups":          ruleField("apiGroups"),
	"ka.req.role.rules.nonResourceURLs":    ruleField("nonResourceURLs"),
	"ka.req.role.rules.verbs":              ruleField("verbs"),
	"ka.req.role.rules.resources":          ruleField("resources"),
	"ka.req.pod.volumes.hostpath":          volumeField("hostPath", "path"),
	"ka.req.pod.volumes.flexvolume_driver": volumeField("flexVolume", "driver"),
	"ka.req.pod.volumes.volume_type":       volumeTypes,
}

const all = -1

func indexed(f func(*Event, int) ([]string, bool)) func(string) (listFunc, bool) {
	return func(arg string) (listFunc, bool) {
		idx := all
		if arg != "" {
			n, err := strconv.Atoi(arg)
			if err != nil || n < 0 {
				return nil, false
			}
			idx = n
		}
		return func(e *Event) ([]string, bool) { return f(e, idx) }, true
	}
}

// pick returns the elements of an array, or only element idx; nil when the
// value is not an array or idx is out of range.
func pick(arr *fastjson.Value, idx int) []*fastjson.Value {
	if arr == nil || arr.Type() != fastjson.TypeArray {
		return nil
	}
	vals := arr.GetArray()
	if idx == all {
		return vals
	}
	if idx >= len(vals) {
		return nil
	}
	return vals[idx : idx+1]
}

func containers(e *Event, kind string, idx int) []*fastjson.Value {
	return pick(e.get("requestObject", "spec", kind), idx)
}

func subjects(kind string, withNS bool) listFunc {
	return func(e *Event) ([]string, bool) {
		subs := e.get("requestObject", "subjects")
		if subs == nil || subs.Type() != fastjson.TypeArray {
			return nil, false
		}
		var out []string
		for _, s := range subs.GetArray() {
			if str(s.Get("kind")) != kind {
				continue
			}
			name := str(s.Get("name"))
			if withNS {
				name = str(s.Get("namespace")) + ":" + name
			}
			out = append(out, name)
		}
		return out, true
	}
}

// ruleField flattens one key of every RBAC rule (verbs, resources, ...).
func ruleField(key string) func(*Event, int) ([]string, bool) {
	return func(e *Event, idx int) ([]string, bool) {
		rules := pick(e.get("requestObject", "rules"), idx)
		if rules == nil {
			return nil, false
		}
		var out []string
		for _, r := range rules {
			for _, v := range r.GetArray(key) {
				if s, ok := text(v); ok {
					out = append(out, s)
				}
			}
		}
		return out, true
	}
}

func volumeField(keys ...string) func(*Event, int) ([]string, bool) {
	return func(e *Event, idx int) ([]string, bool) {
		vols := pick(e.get("requestObject", "spec", "volumes"), idx)
		if vols == nil {
			return nil, false
		}
		var out []string
		for _, v := range vols {
			if s, ok := text(v.Get(keys...)); ok {
				out = append(out, s)
			}
		}
		return out, true
	}
}

// volumeTypes lists the keys of each volume other than its name: the
// volume source types (hostPath, configMap, ...).
func volumeTypes(e *Event, idx int) ([]string, bool) {
	vols := pick(e.get("requestObject", "spec", "volumes"), idx)
	if vols == nil {
		return nil, false
	}
	var out []string
	for _, v := range vols {
		o, err := v.Object()
		if err != nil {
			return nil, false
		}
		o.Visit(func(k []byte, _ *fastjson.Value) {
			if string(k) != "name" {
				out = append(out, string(k))
			}
		})
	}
	return out, true
}
