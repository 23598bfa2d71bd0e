package rules

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a semantic version.
type Version struct{ Major, Minor, Patch uint64 }

// EngineVersion is the Falco rules engine version Peregrine implements.
var EngineVersion = Version{0, 63, 0}

// ProvidedPlugins are the Falco plugins whose fields Peregrine provides
// natively, with the version whose semantics it follows. The managed-cloud
// variants of k8saudit (aks, eks, gke, ovh) only differ in how they collect
// audit events; their fields are k8saudit's, so rules written for them load.
var ProvidedPlugins = map[string]Version{
	"container":    {0, 6, 0},
	"k8saudit":     {0, 18, 0},
	"k8saudit-aks": {0, 6, 0},
	"k8saudit-eks": {0, 12, 0},
	"k8saudit-gke": {0, 9, 0},
	"k8saudit-ovh": {0, 6, 0},
	"json":         {0, 7, 3},
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

func (v Version) less(o Version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor < o.Minor
	}
	return v.Patch < o.Patch
}

// compatibleWith reports whether v satisfies a requirement of req: same
// major version and not older.
func (v Version) compatibleWith(req Version) bool {
	return v.Major == req.Major && !v.less(req)
}

// parseVersion parses "x.y.z".
func parseVersion(s string) (Version, bool) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 3 {
		return Version{}, false
	}
	var n [3]uint64
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return Version{}, false
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, true
}

// parseEngineVersion accepts an integer N, meaning 0.N.0, or "x.y.z".
func parseEngineVersion(s string) (Version, bool) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return Version{0, n, 0}, true
	}
	return parseVersion(s)
}

type pluginReq struct{ name, version string }

// checkPluginRequirement accepts a required_plugin_versions entry when
// any of its alternatives names a plugin Peregrine provides at a
// compatible version.
func checkPluginRequirement(alts []pluginReq, ctx Context) {
	seen := map[string]bool{}
	var problems []string
	for _, a := range alts {
		v, ok := parseVersion(a.version)
		validate(!ok, "Invalid required version '"+a.version+"' for plugin '"+a.name+"'", ctx)
		validate(seen[a.name], "Defined multiple alternative version requirements for plugin '"+a.name+"'", ctx)
		seen[a.name] = true
		have, provided := ProvidedPlugins[a.name]
		switch {
		case !provided:
			problems = append(problems, fmt.Sprintf("plugin '%s' is not provided", a.name))
		case !have.compatibleWith(v):
			problems = append(problems, fmt.Sprintf("plugin '%s' version %s is required, Peregrine provides %s", a.name, v, have))
		default:
			return
		}
	}
	validate(true, "Plugin requirement not satisfied: "+strings.Join(problems, "; ")+
		" (Peregrine provides the fields of container, k8saudit and its cloud variants, and json)", ctx)
}
