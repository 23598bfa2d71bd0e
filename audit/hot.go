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
	hotCount
)

var hotTop = map[string]int{
	"auditID": hotAuditID, "stage": hotStage, "verb": hotVerb, "requestURI": hotURI, "user": hotUser,
	"objectRef": hotObjectRef, "annotations": hotAnnotations,
}

var hotPaths = map[string]int{
	"user/username": hotUsername, "objectRef/resource": hotResource, "objectRef/subresource": hotSubresource,
	"objectRef/namespace": hotNamespace, "objectRef/name": hotName,
}

// bodyKeys are the bodies' keys, by index in Event.bodies.
var bodyKeys = map[string]int{"requestObject": requestBody, "responseObject": responseBody}

// locate fills e.hot, and the bodies that were parsed with the event,
// from the event object.
func (e *Event) locate() {
	o, err := e.v.Object()
	if err != nil {
		return
	}
	o.Visit(func(k []byte, v *fastjson.Value) {
		if i, ok := hotTop[string(k)]; ok {
			e.hot[i] = v
		} else if i, ok := bodyKeys[string(k)]; ok && e.bodies[i].done {
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
	if i, ok := bodyKeys[keys[0]]; ok {
		return e.body(i).Get(keys[1:]...)
	}
	if len(keys) == 2 {
		if i, ok := hotPaths[keys[0]+"/"+keys[1]]; ok {
			return e.hot[i]
		}
	}
	if i, ok := hotTop[keys[0]]; ok {
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
	if i, ok := bodyKeys[keys[0]]; ok {
		rest := keys[1:]
		return func(e *Event) *fastjson.Value { return e.body(i).Get(rest...) }
	}
	if i, ok := hotTop[keys[0]]; ok {
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
