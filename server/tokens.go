package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/util/wait"
	authn "k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	tokencache "k8s.io/apiserver/pkg/authentication/token/cache"
	webhooktoken "k8s.io/apiserver/plugin/pkg/authenticator/token/webhook"

	"github.com/peregrine-sec/peregrine/config"
)

// nodeNameKey is where a TokenReview reports the node a pod-bound
// ServiceAccount token was issued for.
const nodeNameKey = "authentication.kubernetes.io/node-name"

var (
	errNotAgent = errors.New("the token's service account may not stream (agents.service_accounts)")
	errNoNode   = errors.New("the token is bound to no node: give the agent a projected ServiceAccount token of its pod")
)

// agentTokens authenticates agents by their projected ServiceAccount
// tokens, with the apiserver's TokenReview (k8s.io/apiserver's webhook
// token authenticator; answers cached for 10 s). A review that fails or
// times out refuses the agent: it never admits one.
type agentTokens struct {
	auth     authn.Request
	audience authn.Audiences // asked of the TokenReview and checked in its answer
	accounts []string        // system:serviceaccount:NS:NAME
	failures *prometheus.CounterVec
	log      *slog.Logger
}

func newAgentTokens(a config.Agents, cl cluster, reg prometheus.Registerer, log *slog.Logger) (*agentTokens, error) {
	if a.TokenAudience == "" {
		return nil, nil
	}
	client, err := cl.need("agents.token_audience")
	if err != nil {
		return nil, err
	}
	t := &agentTokens{log: log, audience: authn.Audiences{a.TokenAudience}, failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "peregrine_agent_auth_failures_total",
		Help: "Agents refused by token authentication, by reason."}, []string{"reason"})}
	reg.MustRegister(t.failures)
	for _, sa := range a.ServiceAccounts {
		t.accounts = append(t.accounts, "system:serviceaccount:"+sa)
	}
	backoff := wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.2, Steps: 3}
	review, err := webhooktoken.NewFromInterface(client.AuthenticationV1(), t.audience, backoff,
		a.TokenReviewTimeout, webhooktoken.AuthenticatorMetrics{
			RecordRequestTotal:   func(context.Context, string) {},
			RecordRequestLatency: func(context.Context, string, float64) {}})
	if err != nil {
		return nil, fmt.Errorf("token review: %w", err)
	}
	t.auth = bearertoken.New(tokencache.New(review, false, 10*time.Second, 10*time.Second))
	return t, nil
}

// node authenticates r's bearer token and returns the node it is bound to.
func (t *agentTokens) node(r *http.Request) (string, error) {
	r = r.WithContext(authn.WithAudiences(r.Context(), t.audience))
	resp, ok, err := t.auth.AuthenticateRequest(r)
	if err != nil || !ok {
		// bearertoken reports a token the review rejected as "invalid bearer
		// token"; any other error is the review itself failing (the
		// apiserver unreachable or slow), which refuses all the same.
		reason := "invalid"
		if err != nil && !strings.Contains(err.Error(), "invalid bearer token") {
			reason = "review_failed"
		}
		t.failures.WithLabelValues(reason).Inc()
		t.log.Warn("agent refused: token not accepted", "reason", reason, "err", err)
		return "", errUnauthenticated
	}
	u := resp.User
	if !slices.Contains(t.accounts, u.GetName()) {
		t.failures.WithLabelValues("not_agent").Inc()
		return "", fmt.Errorf("%w: %s", errNotAgent, u.GetName())
	}
	nodes := u.GetExtra()[nodeNameKey]
	if len(nodes) != 1 || nodes[0] == "" {
		t.failures.WithLabelValues("no_node").Inc()
		return "", errNoNode
	}
	return nodes[0], nil
}
