package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads the file at path (none when empty) over the defaults, then
// applies overrides of the form key.sub=value, as Falco's -o.
func Load(path string, overrides []string) (*Config, error) {
	var raw []byte
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		raw = b
	}
	if len(overrides) > 0 {
		// Apply the overrides on the YAML tree and decode its re-encoding;
		// without overrides the file is decoded as is, so errors point at
		// its own lines.
		var root yaml.Node
		if err := yaml.Unmarshal(raw, &root); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		doc := document(&root)
		for _, o := range overrides {
			if err := override(doc, o); err != nil {
				return nil, err
			}
		}
		var buf bytes.Buffer
		if err := yaml.NewEncoder(&buf).Encode(doc); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		raw = buf.Bytes()
	}
	cfg := Default()
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config %s: %w", orDefault(path), err)
	}
	var keys map[string]any
	_ = yaml.Unmarshal(raw, &keys) // it decoded above
	_, cfg.jsonOutputSet = keys["json_output"]
	return cfg, cfg.validate()
}

func orDefault(path string) string {
	if path == "" {
		return "(overrides)"
	}
	return path
}

// document returns the top mapping of a parsed file, creating it.
func document(root *yaml.Node) *yaml.Node {
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 && root.Content[0].Kind == yaml.MappingNode {
		return root.Content[0]
	}
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
}

// override sets key.sub.leaf=value in the mapping, creating mappings on the
// way. The value is parsed as YAML, so lists and numbers work.
func override(doc *yaml.Node, o string) error {
	key, value, ok := strings.Cut(o, "=")
	if !ok || key == "" {
		return fmt.Errorf("override %q: want key=value", o)
	}
	var v yaml.Node
	if err := yaml.Unmarshal([]byte(value), &v); err != nil {
		return fmt.Errorf("override %q: %w", o, err)
	}
	node := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ""}
	if len(v.Content) == 1 {
		node = v.Content[0]
	}
	m := doc
	parts := strings.Split(key, ".")
	for i, p := range parts {
		child := lookup(m, p)
		if i == len(parts)-1 {
			if child != nil {
				*child = *node
			} else {
				m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p}, node)
			}
			return nil
		}
		if child == nil || child.Kind != yaml.MappingNode {
			nm := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			if child != nil {
				*child = *nm
				nm = child
			} else {
				m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p}, nm)
			}
			child = nm
		}
		m = child
	}
	return nil
}

func lookup(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func (c *Config) validate() error {
	var errs []error
	if c.RuleMatching != "first" && c.RuleMatching != "all" {
		errs = append(errs, fmt.Errorf("rule_matching: %q is not first or all", c.RuleMatching))
	}
	if (c.K8sAudit.CertFile == "") != (c.K8sAudit.KeyFile == "") {
		errs = append(errs, errors.New("k8s_audit: cert_file and key_file go together"))
	}
	if c.K8sAudit.ClientCAFile != "" && c.K8sAudit.CertFile == "" {
		errs = append(errs, errors.New("k8s_audit: client_ca_file needs TLS (cert_file and key_file)"))
	}
	for _, m := range append([]string{c.Admission.Mode}, mapValues(c.Admission.NamespaceModes)...) {
		if m != "enforce" && m != "warn" && m != "audit" {
			errs = append(errs, fmt.Errorf("admission: mode %q is not enforce, warn or audit", m))
		}
	}
	if (c.Admission.CertFile == "") != (c.Admission.KeyFile == "") {
		errs = append(errs, errors.New("admission: cert_file and key_file go together"))
	}
	if c.HTTPOutput.Enabled && c.HTTPOutput.URL == "" {
		errs = append(errs, errors.New("http_output: enabled without url"))
	}
	if c.ProgramOutput.Enabled && c.ProgramOutput.Program == "" {
		errs = append(errs, errors.New("program_output: enabled without program"))
	}
	return errors.Join(errs...)
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
