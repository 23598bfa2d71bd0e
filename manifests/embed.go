package manifests

import _ "embed"

// AuditPolicy is the recommended audit policy (audit-policy.yaml), which
// peregrine audit-config prints.
//
//go:embed audit-policy.yaml
var AuditPolicy []byte
