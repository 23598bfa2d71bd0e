package audit

import "github.com/valyala/fastjson"

// containerLists read one property of every container of a pod spec list
// (containers, initContainers or ephemeralContainers). Like the k8saudit
// plugin, a container without the property makes the field absent, except
// privileged, which skips such containers.
var containerLists = map[string]func(spec *fastjson.Value, cs []*fastjson.Value) ([]string, bool){
	"name":                       ofContainers(each("name")),
	"image":                      ofContainers(each("image")),
	"command":                    ofContainers(flat("command")),
	"args":                       ofContainers(flat("args")),
	"privileged":                 ofContainers(eachSkipMissing("securityContext", "privileged")),
	"allow_privilege_escalation": ofContainers(each("securityContext", "allowPrivilegeEscalation")),
	"read_only_fs":               ofContainers(each("securityContext", "readOnlyRootFilesystem")),
	"run_as_user":                ofContainers(each("securityContext", "runAsUser")),
	"run_as_group":               ofContainers(each("securityContext", "runAsGroup")),
	"proc_mount":                 ofContainers(each("securityContext", "procMount")),
	"add_capabilities":           ofContainers(flat("securityContext", "capabilities", "add")),
	"image.repository":           ofContainers(repositories),
	"host_port":                  ofContainers(hostPorts),
	"eff_run_as_user":            effective("runAsUser"),
	"eff_run_as_group":           effective("runAsGroup"),
}

func ofContainers(f func([]*fastjson.Value) ([]string, bool)) func(*fastjson.Value, []*fastjson.Value) ([]string, bool) {
	return func(_ *fastjson.Value, cs []*fastjson.Value) ([]string, bool) { return f(cs) }
}

// effective is the id a container starts with: its own securityContext
// setting, else the pod's, else 0 (root).
func effective(key string) func(*fastjson.Value, []*fastjson.Value) ([]string, bool) {
	return func(spec *fastjson.Value, cs []*fastjson.Value) ([]string, bool) {
		if cs == nil {
			return nil, false
		}
		def := "0"
		if s, ok := text(spec.Get("securityContext", key)); ok {
			def = s
		}
		out := make([]string, 0, len(cs))
		for _, c := range cs {
			s, ok := text(c.Get("securityContext", key))
			if !ok {
				s = def
			}
			out = append(out, s)
		}
		return out, true
	}
}

func each(keys ...string) func([]*fastjson.Value) ([]string, bool) {
	return func(cs []*fastjson.Value) ([]string, bool) {
		if cs == nil {
			return nil, false
		}
		out := make([]string, 0, len(cs))
		for _, c := range cs {
			s, ok := text(c.Get(keys...))
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
}

func eachSkipMissing(keys ...string) func([]*fastjson.Value) ([]string, bool) {
	return func(cs []*fastjson.Value) ([]string, bool) {
		if cs == nil {
			return nil, false
		}
		var out []string
		for _, c := range cs {
			if s, ok := text(c.Get(keys...)); ok {
				out = append(out, s)
			}
		}
		return out, true
	}
}

// flat concatenates an array property of every container.
func flat(keys ...string) func([]*fastjson.Value) ([]string, bool) {
	return func(cs []*fastjson.Value) ([]string, bool) {
		if cs == nil {
			return nil, false
		}
		var out []string
		for _, c := range cs {
			for _, v := range c.GetArray(keys...) {
				if s, ok := text(v); ok {
					out = append(out, s)
				}
			}
		}
		return out, true
	}
}

func repositories(cs []*fastjson.Value) ([]string, bool) {
	images, ok := each("image")(cs)
	for i, im := range images {
		images[i] = repository(im)
	}
	return images, ok
}

// hostPorts lists each container port's hostPort, or its containerPort
// when no hostPort is set (with hostNetwork they are the same).
func hostPorts(cs []*fastjson.Value) ([]string, bool) {
	if cs == nil {
		return nil, false
	}
	var out []string
	for _, c := range cs {
		for _, p := range c.GetArray("ports") {
			v := p.Get("hostPort")
			if v == nil {
				v = p.Get("containerPort")
			}
			if s, ok := text(v); ok {
				out = append(out, s)
			}
		}
	}
	return out, true
}

// ContainerProperty reads one property (name, image, privileged,
// add_capabilities, eff_run_as_user, ...: the suffixes of the
// ka.req.pod.containers.* fields) of every container in cs, with the
// k8saudit plugin's semantics; spec is the pod spec they belong to. The
// admission source applies it to the ephemeral containers a request adds.
func ContainerProperty(name string) (func(spec *fastjson.Value, cs []*fastjson.Value) ([]string, bool), bool) {
	f, ok := containerLists[name]
	return f, ok
}
