package stream

import (
	"time"

	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/rules"
	"github.com/peregrine-sec/peregrine/runtime"
	"github.com/peregrine-sec/peregrine/session"
)

// Hello opens a stream.
type Hello struct {
	Node     string `json:"node"`
	Hostname string `json:"hostname"`
	// Instance names the agent process: its batches' seqs count from 1 in
	// each, so a replica tells a batch sent again from a new one.
	Instance string `json:"instance,omitempty"`
	// Linked are the replicas the agent reaches on its other links: one of
	// them refuses this link (409), so that two URLs of one replica do not
	// make two links that replace each other.
	Linked []string `json:"linked,omitempty"`
}

// Peers says which replica answers, and where the others are.
type Peers struct {
	Replica string   `json:"replica"` // this replica's id, the same on every link to it
	URLs    []string `json:"urls"`    // the other replicas' agent-stream URLs
}

// Alerts is a batch of alerts, and of the exec sessions the agent bound
// since the last batch: they ride on the acknowledged batches, so that a
// link that goes down loses none of them.
type Alerts struct {
	Seq      uint64            `json:"seq"`
	Alerts   []Alert           `json:"alerts"`
	Bindings []session.Binding `json:"bindings,omitempty"`
}

// ack acknowledges the batches up to Seq.
type ack struct {
	Seq uint64 `json:"seq"`
}

// Alert is an alert on the wire: Falco's JSON fields.
type Alert struct {
	ID           string         `json:"uuid,omitempty"` // made by the agent, kept by the replicas
	Time         time.Time      `json:"time"`
	Rule         string         `json:"rule"`
	Priority     string         `json:"priority"`
	Source       string         `json:"source"`
	Hostname     string         `json:"hostname"`
	Output       string         `json:"output"`
	OutputFields map[string]any `json:"output_fields,omitempty"`
	Tags         []string       `json:"tags,omitempty"`
}

func fromAlert(a *output.Alert) Alert {
	return Alert{ID: a.ID, Time: a.Time, Rule: a.Rule, Priority: a.Priority.String(), Source: a.Source, Hostname: a.Hostname,
		Output: a.Message, OutputFields: a.OutputFields, Tags: a.Tags}
}

func (a *Alert) alert() *output.Alert {
	p, ok := rules.ParsePriority(a.Priority)
	if !ok {
		p = rules.Debug
	}
	return &output.Alert{ID: a.ID, Time: a.Time, Rule: a.Rule, Priority: p, Source: a.Source, Hostname: a.Hostname,
		Message: a.Output, OutputFields: a.OutputFields, Tags: a.Tags}
}

// Pods are the containers of the agent's node, as the cluster sees them.
type Pods struct {
	Containers []runtime.PodInfo `json:"containers"`
}
