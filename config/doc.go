// Package config owns Peregrine's configuration file: one YAML file shaped
// like falco.yaml where the concepts are the same (rules_files, priority,
// json_output, the *_output sections, webserver), plus Peregrine's own
// sections, with `-o key=value` overrides applied on top.
package config
