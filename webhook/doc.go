// Package webhook owns admission: the k8s_admission source. It decodes
// admission.k8s.io/v1 AdmissionReview requests, exposes them to rules with
// the same ka.* fields audit rules use (plus adm.*), and turns the rules
// that match into a decision: deny, warn or allow, per mode and namespace,
// with an alert for every match.
package webhook
