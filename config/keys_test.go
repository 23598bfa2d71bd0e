package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/policies/rules"
)

// valid are values for keys whose every string the configuration does not
// accept, or that need another key set with them.
var valid = map[string][]string{
	"append_output":             {"append_output=[{match: {source: syscall}, extra_output: on CPU %evt.cpu, extra_fields: [evt.hostname, {home: x}]}]"},
	"rule_matching":             {"rule_matching=all"},
	"admission.mode":            {"admission.mode=warn"},
	"admission.namespace_modes": {"admission.namespace_modes={shop: audit}"},
	"k8s_audit.cert_file":       {"k8s_audit.cert_file=x", "k8s_audit.key_file=y"},
	"k8s_audit.key_file":        {"k8s_audit.cert_file=x", "k8s_audit.key_file=y"},
	"k8s_audit.client_ca_file":  {"k8s_audit.client_ca_file=x", "k8s_audit.cert_file=x", "k8s_audit.key_file=y"},
	"admission.cert_file":       {"admission.cert_file=x", "admission.key_file=y"},
	"admission.key_file":        {"admission.cert_file=x", "admission.key_file=y"},
	"http_output.enabled":       {"http_output.enabled=true", "http_output.url=http://x"},
	"program_output.enabled":    {"program_output.enabled=true", "program_output.program=cat"},
}

// TestEveryKeyOverridable: every key of the configuration file, walked
// from Config's yaml names, can be set with -o, and setting it changes
// that setting.
func TestEveryKeyOverridable(t *testing.T) {
	def := Default()
	n := 0
	walk(reflect.TypeOf(*def), "", func(key string, path []int, typ reflect.Type) {
		n++
		overrides, ok := valid[key]
		if !ok {
			overrides = []string{key + "=" + other(t, key, typ, reflect.ValueOf(*def).FieldByIndex(path))}
		}
		cfg, err := Load("", overrides)
		if err != nil {
			t.Errorf("-o %s: %v", strings.Join(overrides, " -o "), err)
			return
		}
		if reflect.DeepEqual(reflect.ValueOf(*cfg).FieldByIndex(path).Interface(), reflect.ValueOf(*def).FieldByIndex(path).Interface()) {
			t.Errorf("-o %s left %s at its default", strings.Join(overrides, " -o "), key)
		}
	})
	if n < 90 {
		t.Errorf("walked %d keys; the configuration has more", n)
	}
	t.Logf("%d keys set with -o", n)
}

// walk calls leaf for every key of struct type typ: its dotted yaml name,
// its field index path and its type. Inline structs add their keys to
// their parent's.
func walk(typ reflect.Type, prefix string, leaf func(key string, path []int, typ reflect.Type)) {
	walkFrom(typ, prefix, nil, leaf)
}

func walkFrom(typ reflect.Type, prefix string, at []int, leaf func(string, []int, reflect.Type)) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		path := append(append([]int(nil), at...), i)
		switch {
		case opts == "inline":
			walkFrom(f.Type, prefix, path, leaf)
		case f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{}):
			walkFrom(f.Type, prefix+name+".", path, leaf)
		default:
			leaf(prefix+name, path, f.Type)
		}
	}
}

// other is a value, as -o writes it, that differs from def.
func other(t *testing.T, key string, typ reflect.Type, def reflect.Value) string {
	switch {
	case typ == reflect.TypeOf(rules.Priority(0)):
		if def.Interface() == rules.Warning {
			return "error"
		}
		return "warning"
	case typ == reflect.TypeOf(time.Duration(0)):
		return (def.Interface().(time.Duration) + 7*time.Second).String()
	}
	switch typ.Kind() {
	case reflect.Bool:
		if def.Bool() {
			return "false"
		}
		return "true"
	case reflect.Int, reflect.Int64:
		return "12345"
	case reflect.String:
		return "x-" + strings.ReplaceAll(key, ".", "-")
	case reflect.Slice:
		return "[x-1, x-2]"
	case reflect.Map:
		return "{x: y}"
	}
	t.Fatalf("%s: no value for a %s", key, typ)
	return ""
}
