package audit

import (
	"strings"

	"github.com/valyala/fastjson"
)

// Nearly every k8s_audit rule reads the stage, verb and target first, and
// fastjson looks object keys up linearly; so the values rules read most are
// located once per event, in one pass over the object, and kept here.
const (
	hotAuditID = iota
	hotStage
	hotVerb
	hotURI
	hotUser
	hotObjectRef
	hotAnnotations
	hotUsername
	hotResource
	hotSubresource
	hotNamespace
	hotName
	hotKind       // for checkEvent
	hotAPIVersion // for checkEvent
	hotCount
)

// hotTop is the slot of a top-level key, or -1. (A switch, not a map:
// locate asks it for every key of every event, and a switch on strings
// compiles to a few length and word compares.)
func hotTop(k string) int {
	switch k {
	case "auditID":
		return hotAuditID
	case "stage":
		return hotStage
	case "verb":
		return hotVerb
	case "requestURI":
		return hotURI
	case "user":
		return hotUser
	case "objectRef":
		return hotObjectRef
	case "annotations":
		return hotAnnotations
	case "kind":
		return hotKind
	case "apiVersion":
		return hotAPIVersion
	}
	return -1
}

var hotPaths = map[string]int{
	"user/username": hotUsername, "objectRef/resource": hotResource, "objectRef/subresource": hotSubresource,
	"objectRef/namespace": hotNamespace, "objectRef/name": hotName,
}

// bodyKey is the index in Event.bodies of a body's key, or -1.
func bodyKey(k string) int {
	switch k {
	case "requestObject":
		return requestBody
	case "responseObject":
		return responseBody
	}
	return -1
}

// locate fills e.hot, and the bodies that were parsed with the event,
// from the event object.
func (e *Event) locate() {
	o, err := e.v.Object()
	if err != nil {
		return
	}
	o.Visit(func(k []byte, v *fastjson.Value) {
		if i := hotTop(string(k)); i >= 0 {
			e.hot[i] = v
		} else if i := bodyKey(string(k)); i >= 0 && e.bodies[i].done {
			e.bodies[i].v = v
		}
	})
	if u := e.hot[hotUser]; u != nil {
		e.hot[hotUsername] = u.Get("username")
	}
	if r := e.hot[hotObjectRef]; r != nil {
		e.hot[hotResource], e.hot[hotSubresource] = r.Get("resource"), r.Get("subresource")
		e.hot[hotNamespace], e.hot[hotName] = r.Get("namespace"), r.Get("name")
	}
}

// get reads a key path, starting from a located value where it can.
func (e *Event) get(keys ...string) *fastjson.Value {
	if len(keys) == 0 {
		return e.whole()
	}
	if i := bodyKey(keys[0]); i >= 0 {
		return e.body(i).Get(keys[1:]...)
	}
	if len(keys) == 2 {
		if i, ok := hotPaths[keys[0]+"/"+keys[1]]; ok {
			return e.hot[i]
		}
	}
	if i := hotTop(keys[0]); i >= 0 {
		if v := e.hot[i]; v != nil {
			return v.Get(keys[1:]...)
		}
		return nil
	}
	return e.v.Get(keys...)
}

// getter precomputes how get resolves a path, so that the per-event work
// is a slot read and the remaining lookups.
func getter(keys ...string) func(*Event) *fastjson.Value {
	if len(keys) == 2 {
		if i, ok := hotPaths[strings.Join(keys, "/")]; ok {
			return func(e *Event) *fastjson.Value { return e.hot[i] }
		}
	}
	if len(keys) == 0 {
		return (*Event).whole
	}
	if i := bodyKey(keys[0]); i >= 0 {
		rest := keys[1:]
		return func(e *Event) *fastjson.Value { return e.body(i).Get(rest...) }
	}
	if i := hotTop(keys[0]); i >= 0 {
		rest := keys[1:]
		return func(e *Event) *fastjson.Value {
			if v := e.hot[i]; v != nil && len(rest) > 0 {
				return v.Get(rest...)
			} else {
				return v
			}
		}
	}
	return func(e *Event) *fastjson.Value { return e.v.Get(keys...) }
}
