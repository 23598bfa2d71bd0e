package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/peregrine-sec/peregrine/policies/rules"
)

// Config is the whole configuration.
type Config struct {
	RulesFiles                      Paths          `yaml:"rules_files"`
	Priority                        rules.Priority `yaml:"priority"`
	RuleMatching                    string         `yaml:"rule_matching"` // first or all
	JSONOutput                      bool           `yaml:"json_output"`
	JSONIncludeOutputProperty       bool           `yaml:"json_include_output_property"`
	JSONIncludeTagsProperty         bool           `yaml:"json_include_tags_property"`
	JSONIncludeMessageProperty      bool           `yaml:"json_include_message_property"`
	JSONIncludeOutputFieldsProperty bool           `yaml:"json_include_output_fields_property"`
	TimeFormatISO8601               bool           `yaml:"time_format_iso_8601"`
	Hostname                        string         `yaml:"hostname"`
	AppendOutput                    []AppendOutput `yaml:"append_output"`

	StdoutOutput  StdoutOutput  `yaml:"stdout_output"`
	FileOutput    FileOutput    `yaml:"file_output"`
	SyslogOutput  SyslogOutput  `yaml:"syslog_output"`
	HTTPOutput    HTTPOutput    `yaml:"http_output"`
	ProgramOutput ProgramOutput `yaml:"program_output"`
	OutputsQueue  OutputsQueue  `yaml:"outputs_queue"`

	Webserver    Webserver    `yaml:"webserver"`
	K8sAudit     K8sAudit     `yaml:"k8s_audit"`
	Admission    Admission    `yaml:"admission"`
	ExecSessions ExecSessions `yaml:"exec_sessions"`
	Store        Store        `yaml:"store"`
	Kubernetes   Kubernetes   `yaml:"kubernetes"`
	Agents       Agents       `yaml:"agents"`
	Server       Server       `yaml:"server"`
	Certificates Certificates `yaml:"certificates"`

	jsonOutputSet bool // json_output was in the file or an override
}

// TextOnTerminal makes the alerts text lines when they go to a terminal
// and json_output was not set: a person reads them there, as Falco's
// default text. JSON otherwise, for whatever reads a pipe or a file.
func (c *Config) TextOnTerminal(terminal bool) {
	if terminal && !c.jsonOutputSet {
		c.JSONOutput = false
	}
}

// Certificates: on a cluster the service makes and keeps its own TLS
// material. Its CA lives in Secret (made on first start, shared by
// restarts and replicas), its CA certificate is published in ConfigMap
// (agents mount it), the caBundle of the ValidatingWebhookConfiguration
// Webhook is kept equal to it, and every listener without a cert_file
// serves a certificate for DNSNames signed by the CA, renewed before it
// expires, and accepts client certificates the CA signed.
type Certificates struct {
	Secret     string        `yaml:"secret"` // empty: certificates come from files
	Namespace  string        `yaml:"namespace"`
	ConfigMap  string        `yaml:"configmap"`
	Webhook    string        `yaml:"webhook"`
	DNSNames   []string      `yaml:"dns_names"`
	Validity   time.Duration `yaml:"validity"`    // of a serving certificate
	CAValidity time.Duration `yaml:"ca_validity"` // of the CA made on first start
}

// Agents is the service's listener for node agents' streams (serve).
type Agents struct {
	Enabled       bool   `yaml:"enabled"`
	ListenAddress string `yaml:"listen_address"`
	ListenPort    int    `yaml:"listen_port"`
	Endpoint      string `yaml:"endpoint"`
	ListenerAuth  `yaml:",inline"`
	// TokenAudience, when set, accepts agents' projected ServiceAccount
	// tokens of that audience, checked by a TokenReview (needs a cluster);
	// the node an agent speaks for is then the node its token is bound to.
	TokenAudience string `yaml:"token_audience"`
	// ServiceAccounts may stream with a token ("namespace:name").
	ServiceAccounts    []string      `yaml:"service_accounts"`
	TokenReviewTimeout time.Duration `yaml:"token_review_timeout"`
	// Peers are the other replicas' agent-stream URLs, as an agent's
	// server.url would name them: agents learn them from any replica and
	// link to every one, so that any replica reaches every agent.
	Peers []string `yaml:"peers"`
	// PeerService ("namespace/name"), on a cluster, is the Service in
	// front of the replicas' agent listeners: each replica watches its
	// EndpointSlices and tells agents the other ready replicas.
	PeerService string `yaml:"peer_service"`
}

// ListenerAuth is a listener's TLS and client authentication. Without a
// certificate the listener is plain HTTP, which only makes sense on
// loopback. Clients present a certificate signed by ClientCAFile (with one
// of AllowedClientNames as common name, when set: 403 otherwise) or a
// bearer token from TokensFile (one per line).
type ListenerAuth struct {
	CertFile           string   `yaml:"cert_file"`
	KeyFile            string   `yaml:"key_file"`
	ClientCAFile       string   `yaml:"client_ca_file"`
	AllowedClientNames []string `yaml:"allowed_client_names"`
	TokensFile         string   `yaml:"tokens_file"`
}

// Server is where a node agent streams to (agent --server).
type Server struct {
	URL string `yaml:"url"` // https://peregrine-agents.peregrine.svc:9767/agent/v1/stream; empty: standalone
	// CAFile verifies the service; CertFile and KeyFile authenticate the
	// agent (mTLS), or TokenFile holds a bearer token.
	CAFile    string `yaml:"ca_file"`
	CertFile  string `yaml:"cert_file"`
	KeyFile   string `yaml:"key_file"`
	TokenFile string `yaml:"token_file"`
	// NodeName names the node; empty: $NODE_NAME (the downward API), else
	// the hostname.
	NodeName string `yaml:"node_name"`
	// Buffer bounds the alerts kept while the service is away.
	Buffer int `yaml:"buffer"`
}

// Store is the alert history that serve and run keep (package store).
type Store struct {
	Enabled bool   `yaml:"enabled"`
	Path    string `yaml:"path"` // the SQLite database file
	// URL, when set, is a PostgreSQL database (postgres://user:password@
	// host/db) instead of the file: one history for several replicas.
	URL string `yaml:"url"`
	// Retention is how long an alert is kept (0: no limit by age).
	Retention time.Duration `yaml:"retention"`
	// MaxSize bounds the bytes the alerts use; past it, the oldest go
	// (0: no bound).
	MaxSize int64 `yaml:"max_size"`
}

// ExecSessions attributes processes started by kubectl exec to the
// Kubernetes user (k8s.exec.* on syscall events).
type ExecSessions struct {
	Enabled bool `yaml:"enabled"`
	// Window is how long an announced exec waits for its process, and a
	// process started from outside its container's init tree waits for a
	// late announcement (audit events alone, no webhook).
	Window time.Duration `yaml:"window"`
	// Wait is how long an alert that reads k8s.exec.* waits for its
	// session (k8s.exec.auditid: for its audit event) before it goes out
	// without.
	Wait time.Duration `yaml:"wait"`
}

// Kubernetes is the cluster the service watches pods of: container ids,
// nodes and pod metadata for syscall events and exec sessions.
type Kubernetes struct {
	// Kubeconfig is a kubeconfig file; empty uses the in-cluster service
	// account inside a pod and watches nothing elsewhere.
	Kubeconfig string `yaml:"kubeconfig"`
}

// Admission is the validating webhook (always TLS).
type Admission struct {
	Enabled       bool   `yaml:"enabled"`
	ListenAddress string `yaml:"listen_address"`
	ListenPort    int    `yaml:"listen_port"`
	Endpoint      string `yaml:"endpoint"`
	// CertFile and KeyFile serve the webhook and are reloaded when they
	// change; without them a CA and a certificate for DNSNames are
	// generated at start, and the CA bundle written to CABundleFile.
	CertFile     string   `yaml:"cert_file"`
	KeyFile      string   `yaml:"key_file"`
	DNSNames     []string `yaml:"dns_names"`
	CABundleFile string   `yaml:"ca_bundle_file"`
	// ClientCAFile, when set, requires the apiserver's client certificate
	// (AdmissionConfiguration kubeConfigFile).
	ClientCAFile string `yaml:"client_ca_file"`
	// Mode is enforce, warn or audit; NamespaceModes override it.
	Mode             string            `yaml:"mode"`
	NamespaceModes   map[string]string `yaml:"namespace_modes"`
	ExemptNamespaces []string          `yaml:"exempt_namespaces"`
	// LatencyBudget bounds a decision; past it the request is admitted
	// (keep it under the webhook's timeoutSeconds).
	LatencyBudget time.Duration `yaml:"latency_budget"`
	MaxBodyBytes  int64         `yaml:"max_body_bytes"`
	Workers       int           `yaml:"workers"`
}

// StdoutOutput is stdout_output.
type StdoutOutput struct {
	Enabled bool `yaml:"enabled"`
}

// FileOutput is file_output.
type FileOutput struct {
	Enabled  bool   `yaml:"enabled"`
	Filename string `yaml:"filename"`
}

// SyslogOutput is syslog_output.
type SyslogOutput struct {
	Enabled bool   `yaml:"enabled"`
	Network string `yaml:"network"` // empty: the local syslog socket
	Address string `yaml:"address"`
}

// HTTPOutput is http_output.
type HTTPOutput struct {
	Enabled    bool          `yaml:"enabled"`
	URL        string        `yaml:"url"`
	UserAgent  string        `yaml:"user_agent"`
	Insecure   bool          `yaml:"insecure"`
	CACert     string        `yaml:"ca_cert"`
	MTLS       bool          `yaml:"mtls"`
	ClientCert string        `yaml:"client_cert"`
	ClientKey  string        `yaml:"client_key"`
	Retries    int           `yaml:"retries"`
	Timeout    time.Duration `yaml:"timeout"`
}

// ProgramOutput is program_output.
type ProgramOutput struct {
	Enabled bool   `yaml:"enabled"`
	Program string `yaml:"program"`
}

// OutputsQueue sizes each output's queue (Falco's outputs_queue.capacity,
// but bounded: 0 means the default, never unbounded).
type OutputsQueue struct {
	Capacity int `yaml:"capacity"`
}

// Webserver is the listener for health, readiness and metrics.
type Webserver struct {
	Enabled            bool   `yaml:"enabled"`
	ListenAddress      string `yaml:"listen_address"`
	ListenPort         int    `yaml:"listen_port"`
	K8sHealthzEndpoint string `yaml:"k8s_healthz_endpoint"`
	SSLEnabled         bool   `yaml:"ssl_enabled"`
	SSLCertificate     string `yaml:"ssl_certificate"` // PEM with certificate and key, as Falco's
	// ListenerAuth guards the alert history API (/api/v1/); health and
	// metrics stay open, for probes and scrapers. Its cert_file and
	// key_file serve TLS as ssl_certificate does.
	ListenerAuth `yaml:",inline"`
}

// K8sAudit is the audit webhook endpoint (Falco's k8s_audit_endpoint idea,
// with the TLS and authentication Falco's plugin lacks).
type K8sAudit struct {
	Enabled       bool   `yaml:"enabled"`
	ListenAddress string `yaml:"listen_address"`
	ListenPort    int    `yaml:"listen_port"`
	Endpoint      string `yaml:"endpoint"`
	// ListenerAuth authenticates the apiserver.
	ListenerAuth `yaml:",inline"`
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	QueueSize    int   `yaml:"queue_size"` // events
	Workers      int   `yaml:"workers"`
	// RetryAfter is the Retry-After sent with 429 when the queue is full.
	RetryAfter time.Duration `yaml:"retry_after"`
}

// Default is the configuration without a file: the built-in rules, JSON
// alerts on stdout, the audit endpoint on loopback.
func Default() *Config {
	return &Config{
		Priority:                        rules.Debug,
		RuleMatching:                    "first",
		JSONOutput:                      true,
		JSONIncludeOutputProperty:       true,
		JSONIncludeTagsProperty:         true,
		JSONIncludeOutputFieldsProperty: true,
		StdoutOutput:                    StdoutOutput{Enabled: true},
		FileOutput:                      FileOutput{Filename: "./events.txt"},
		HTTPOutput:                      HTTPOutput{UserAgent: "peregrine", Retries: 3, Timeout: 5 * time.Second},
		OutputsQueue:                    OutputsQueue{Capacity: 4096},
		Webserver: Webserver{Enabled: true, ListenAddress: "127.0.0.1", ListenPort: 8765,
			K8sHealthzEndpoint: "/healthz"},
		K8sAudit: K8sAudit{Enabled: true, ListenAddress: "127.0.0.1", ListenPort: 9765, Endpoint: "/k8s-audit",
			MaxBodyBytes: 12 << 20, QueueSize: 65536, Workers: 1, RetryAfter: time.Second},
		Admission: Admission{Enabled: true, ListenAddress: "127.0.0.1", ListenPort: 9766, Endpoint: "/validate",
			Mode: "enforce", ExemptNamespaces: []string{"kube-system", "peregrine"},
			LatencyBudget: 800 * time.Millisecond, MaxBodyBytes: 7 << 20, Workers: 4},
		ExecSessions: ExecSessions{Enabled: true, Window: time.Minute, Wait: 5 * time.Second},
		Store:        Store{Enabled: true, Path: "./peregrine.db", Retention: 7 * 24 * time.Hour, MaxSize: 1 << 30},
		Agents: Agents{ListenAddress: "127.0.0.1", ListenPort: 9767, Endpoint: "/agent/v1/stream",
			TokenReviewTimeout: 10 * time.Second},
		Server: Server{Buffer: 100000},
		Certificates: Certificates{Namespace: "peregrine", ConfigMap: "peregrine-ca", Webhook: "peregrine",
			Validity: 30 * 24 * time.Hour, CAValidity: 10 * 365 * 24 * time.Hour},
	}
}

// Paths is a list of files or directories. A single one may be written
// without brackets (rules_files: a.yaml, -o rules_files=a.yaml), as Falco
// takes it.
type Paths []string

// UnmarshalYAML takes a sequence or one scalar.
func (p *Paths) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*p = Paths{n.Value}
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return err
	}
	*p = list
	return nil
}

// AppendOutput is one entry of append_output (Falco 0.38+): extra output
// text and output_fields for the rules Match selects (all of source,
// tags and rule that are set; every rule when none is).
type AppendOutput struct {
	Match struct {
		Source string   `yaml:"source"`
		Tags   []string `yaml:"tags"`
		Rule   string   `yaml:"rule"`
	} `yaml:"match"`
	ExtraOutput string       `yaml:"extra_output"`
	ExtraFields []ExtraField `yaml:"extra_fields"`
	// SuggestedOutput is accepted for Falco's files: the agent always
	// appends the container fields Falco's container plugin suggests.
	SuggestedOutput bool `yaml:"suggested_output"`
}

// ExtraField is a field name (evt.hostname), or a one-key map naming a
// field of one's own and its format (home: "%proc.env[HOME]").
type ExtraField struct {
	Name, Format string
}

// UnmarshalYAML takes a field name or a one-key map.
func (f *ExtraField) UnmarshalYAML(n *yaml.Node) error {
	switch {
	case n.Kind == yaml.ScalarNode:
		f.Name = n.Value
		return nil
	case n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[1].Kind == yaml.ScalarNode:
		f.Name, f.Format = n.Content[0].Value, n.Content[1].Value
		return nil
	}
	return fmt.Errorf("line %d: extra_fields: want a field name or one name: format", n.Line)
}
