package inspect

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/peregrine-sec/peregrine/policies/fields"
)

// FieldsOptions configure Fields.
type FieldsOptions struct {
	Source string // only this source, when set
	Format string // text or json
	// Extracted tells whether a source extracts a field yet; nil means no
	// source extracts anything.
	Extracted func(source, field string) bool
	Out       io.Writer
}

// FieldInfo is the JSON form of a field in `rules fields`.
type FieldInfo struct {
	Source    string `json:"source"`
	Name      string `json:"name"`
	Type      string `json:"type"`
	List      bool   `json:"list"`
	Arg       string `json:"arg"`
	Extracted bool   `json:"extracted"`
	Desc      string `json:"desc"`
}

func argRule(f *fields.Field) string {
	switch {
	case f.Has(fields.ArgRequired):
		return "required"
	case f.Has(fields.ArgAllowed):
		return "optional"
	}
	return "none"
}

// Fields prints the field catalogue of each source and whether each field
// is extracted yet: a rule may name every field, but only extracted ones
// ever carry a value.
func Fields(o FieldsOptions) error {
	var infos []FieldInfo
	found := false
	for _, cat := range Catalogs() {
		if o.Source != "" && cat.Source != o.Source {
			continue
		}
		found = true
		for _, f := range cat.Fields() {
			ex := o.Extracted != nil && o.Extracted(cat.Source, f.Name)
			infos = append(infos, FieldInfo{cat.Source, f.Name, f.Type.String(), f.Has(fields.IsList), argRule(f), ex, f.Desc})
		}
	}
	if !found {
		return fmt.Errorf("unknown source %q (want syscall, k8s_audit or k8s_admission)", o.Source)
	}
	if o.Format == "json" {
		return json.NewEncoder(o.Out).Encode(struct {
			Fields []FieldInfo `json:"fields"`
		}{infos})
	}
	tw := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tFIELD\tTYPE\tARG\tEXTRACTED\tDESCRIPTION")
	for _, f := range infos {
		typ := f.Type
		if f.List {
			typ = "LIST"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Source, f.Name, typ, f.Arg, yesNo(f.Extracted), f.Desc)
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
