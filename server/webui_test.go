package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-sec/peregrine/internal/conformance"
	"github.com/peregrine-sec/peregrine/internal/testenv"
	"github.com/peregrine-sec/peregrine/internal/testpki"
	"github.com/peregrine-sec/peregrine/replay"
	"github.com/peregrine-sec/peregrine/session"
	"github.com/peregrine-sec/peregrine/stream"
)

// TestWebUI fills a running service's history the way a cluster does
// (exec requests through admission, recorded audit traffic through the
// audit endpoint, and the alerts of a recorded syscall capture streamed
// by an agent, some of them from a shell of alice's exec session), then
// reads it in a real headless Chromium: the alert timeline filtered by
// user, the sessions page with admission's verdicts, and one session
// with the alerts of its processes. The screenshot of that page is what
// the README shows (PEREGRINE_SCREENSHOT=docs/ui-session.png to renew it).
func TestWebUI(t *testing.T) {
	browser := testenv.Chromium(t)
	overrides, agentsCA := agentsOverrides(t)
	ts := startServer(t, overrides...)
	session := admitExecs(t, ts)
	auditEvents := postRecordedAudit(t, ts, 2000)
	attributed := streamCapture(t, ts.agentsURL, agentsCA, session)
	waitStored(t, ts, "session="+session, attributed)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, body := get(t, ts.webURL+"/api/v1/sessions/"+session+"/binding")
		if strings.Contains(body, `"state":"bound","container_id":"`+boundContainer+`"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent's binding is not kept: %s", body)
		}
	}

	ctx, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.WindowSize(1400, 1000))...)
	defer cancel()
	ctx, cancel = chromedp.NewContext(ctx)
	defer cancel()
	do(t, ctx, chromedp.Navigate(ts.webURL+"/ui/")) // the first call starts the browser: no timeout on it
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	// Each read of the page is one evaluation that also checks what it
	// waits for: the live stream may redraw a view between a lookup and a
	// read, and a node read after a redraw reads as nothing.
	all := run(t, ctx, chromedp.Poll[[]string](`(() => { const u = [...document.querySelectorAll("#alerts td.user")].map(td => td.textContent);
		return u.length ? u : false })()`))
	// The filter renders the view anew: mark the old table, and read the
	// new one once its first page is in (its pager says what is older).
	run(t, ctx, chromedp.Evaluate[bool](`document.getElementById("alerts").dataset.stale = "1", true`))
	do(t, ctx, chromedp.SetValue(`#filters input[name=user]`, "alice"), chromedp.Click(`#filters button[type=submit]`),
		chromedp.WaitVisible(`#chart svg`))
	users := run(t, ctx, chromedp.Poll[[]string](`(() => {
		const table = document.getElementById("alerts");
		if (!location.hash.includes("user=alice") || !table || table.dataset.stale || !table.nextElementSibling?.textContent) return false;
		const u = [...new Set([...table.querySelectorAll("td.user")].map(td => td.textContent))];
		return u.length ? u : false })()`))
	do(t, ctx, chromedp.SetValue(`#chart-by`, "rule"))
	run(t, ctx, chromedp.Evaluate[bool](`document.getElementById("chart-by").dispatchEvent(new Event("change"))`))
	run(t, ctx, chromedp.Poll[bool](`document.querySelector("#chart svg").getAttribute("aria-label") === "alerts over time by rule"`))
	legend := run(t, ctx, chromedp.Poll[string](`(document.querySelector("#chart svg[aria-label='alerts over time by rule']") &&
		document.getElementById("legend")?.textContent) || false`))
	do(t, ctx, chromedp.Click(`#alerts tr.alert[data-rule="Sensitive file read"]`))
	detail := run(t, ctx, chromedp.Poll[string](`document.querySelector(".alert-detail")?.textContent || false`))
	do(t, ctx, chromedp.Navigate(ts.webURL+"/ui/#/sessions"), chromedp.WaitVisible(`#sessions tbody tr`))
	sessions := run(t, ctx, chromedp.Text(`#sessions tbody`))
	do(t, ctx, chromedp.Click(`#sessions tr[data-id="`+session+`"]`), chromedp.WaitVisible(`#session-alerts`))
	card := run(t, ctx, chromedp.Text(`#session`))
	rows := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#session-alerts tbody tr").length`))
	shot := run(t, ctx, chromedp.FullScreenshot(100)) // 100: PNG
	do(t, ctx, chromedp.Navigate(ts.webURL+"/ui/#/rules"), chromedp.WaitVisible(`#rules tbody tr`))
	rules := run(t, ctx, chromedp.Text(`#rules tbody`))
	t.Logf("%d audit events posted; %d alerts on the first page, %d attributed to the session", auditEvents, len(all), attributed)
	if len(all) == 0 || strings.Count(strings.Join(all, ","), "alice") == len(all) {
		t.Errorf("the unfiltered timeline shows only %q", all)
	}
	if !strings.Contains(legend, "Sensitive file read") || strings.Contains(legend, "Warning") {
		t.Errorf("the chart by rule's legend: %q", legend)
	}
	if diff := cmp.Diff([]string{"alice"}, users); diff != "" {
		t.Errorf("users shown with user=alice (-want +got):\n%s", diff)
	}
	for _, want := range []string{"alerts of pod shop/web", "alerts of user alice", "exec session " + session, "fd.name", "/etc/shadow", "k8s.exec.user"} {
		if !strings.Contains(detail, want) {
			t.Errorf("the alert's detail lacks %q:\n%s", want, detail)
		}
	}
	for _, want := range []string{"mallory", "production/web", "denied", "alice", "shop/web", "allowed", "sh"} {
		if !strings.Contains(sessions, want) {
			t.Errorf("the sessions page lacks %q:\n%s", want, sessions)
		}
	}
	for _, want := range []string{"alice", "devs", "shop/web", "app", "allowed", session, "bound: a process in container " + boundContainer[:12]} {
		if !strings.Contains(card, want) {
			t.Errorf("the session card lacks %q:\n%s", want, card)
		}
	}
	if rows != attributed {
		t.Errorf("the session lists %d alerts, want %d", rows, attributed)
	}
	if !strings.Contains(rules, "Exec or attach into a pod") {
		t.Errorf("the rules page lacks the built-in rules:\n%.500s", rules)
	}
	saveScreenshot(t, shot)
}

// do runs browser steps, failing t on the first that fails.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// run runs one browser action and returns its value.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// agentsOverrides turn on the agents' listener with a token; the pool
// verifies its certificate.
func agentsOverrides(t *testing.T) ([]string, *x509.CertPool) {
	ca := testpki.NewCA(t)
	cert, key := ca.Serving(t, "server")
	tokens := filepath.Join(t.TempDir(), "agent-tokens")
	os.WriteFile(tokens, []byte("agent-token\n"), 0o600)
	pem, _ := os.ReadFile(ca.CertPEM)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return []string{"agents.enabled=true", "agents.listen_port=0", "agents.cert_file=" + cert, "agents.key_file=" + key,
		"agents.tokens_file=" + tokens}, pool
}

// admitExecs sends alice's exec into shop (allowed) and mallory's into
// production (denied) through admission, and returns alice's session id.
func admitExecs(t *testing.T, ts *testServer) string {
	var id string
	for _, r := range []struct{ uid, user, ns string }{{"ui-1", "alice", "shop"}, {"ui-2", "mallory", "production"}} {
		code, body, _ := post(t, ts.admissionClient(), ts.admissionURL, "application/json", "", execReview(r.uid, r.user, r.ns))
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", r.uid, code, body)
		}
		var rev struct {
			Response struct{ AuditAnnotations map[string]string }
		}
		json.Unmarshal([]byte(body), &rev)
		if r.user == "alice" {
			id = rev.Response.AuditAnnotations["request-id"]
		}
	}
	if id == "" {
		t.Fatal("alice's exec was not announced")
	}
	return id
}

// postRecordedAudit posts the first n events of the recorded real traffic
// in EventLists of 400, as the apiserver does.
func postRecordedAudit(t *testing.T, ts *testServer, n int) int {
	lines := bytes.Split(bytes.TrimSpace(conformance.RealTraffic(t)), []byte{'\n'})[:n]
	for i := 0; i < len(lines); i += 400 {
		body := append([]byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[`),
			bytes.Join(lines[i:min(i+400, len(lines))], []byte{','})...)
		if code, resp, _ := post(t, ts.client(), ts.auditURL, "application/json", "s3cret", append(body, "]}"...)); code != http.StatusOK {
			t.Fatalf("audit post: %d %s", code, resp)
		}
	}
	return len(lines)
}

// streamCapture evaluates a recorded syscall capture (replay's, of a
// shell in a container reading /etc/shadow) with the built-in and Falco's
// rules, every match, and streams its alerts as an agent does, the first
// two as an agent that bound them to the session reports them; it returns
// how many it attributed.
func streamCapture(t *testing.T, url string, pool *x509.CertPool, id string) int {
	var out, errs bytes.Buffer
	o := replay.Options{RulesFiles: []string{filepath.Join("..", "policies", "peregrine_rules.yaml"),
		filepath.Join(conformance.Dir(t), "rules", "falco_rules.yaml")}, MatchAll: true,
		SyscallFiles: []string{filepath.Join("..", "replay", "testdata", "capture.jsonl")}, Out: &out, Err: &errs, Hostname: "node-1"}
	if err := replay.Run(context.Background(), o); err != nil {
		t.Fatalf("replay: %v\n%s", err, errs.String())
	}
	var alerts []stream.Alert
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var a stream.Alert
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		// An agent sends the rule's message; the line's "TIME: Priority " is the replica's.
		_, a.Output, _ = strings.Cut(a.Output, ": "+a.Priority+" ")
		alerts = append(alerts, a)
	}
	const attributed = 2
	if len(alerts) < attributed+1 {
		t.Fatalf("the capture raised %d alerts, want more than %d", len(alerts), attributed)
	}
	for i := range alerts[:attributed] {
		f := alerts[i].OutputFields
		f["k8s.exec.user"], f["k8s.exec.id"], f["k8s.ns.name"], f["k8s.pod.name"] = "alice", id, "shop", "web"
		f["k8s.exec.groups"], f["k8s.exec.command"] = "(devs)", "sh"
		alerts[i].Output += " k8s.exec.user=alice"
	}
	// The agent bound alice's shell: it says so with the batch.
	bind := session.Binding{ID: id, ContainerID: boundContainer, Time: time.Now(), Announcement: session.Announcement{
		ID: id, User: "alice", Groups: []string{"devs"}, Namespace: "shop", Pod: "web", Container: "app", Command: []string{"sh"}}}
	var body bytes.Buffer
	stream.WriteFrame(&body, stream.KindHello, stream.Hello{Node: "node-1"})
	stream.WriteFrame(&body, stream.KindAlerts, stream.Alerts{Seq: 1, Alerts: alerts, Bindings: []session.Binding{bind}})
	req, _ := http.NewRequest(http.MethodPost, url, &body)
	req.Header.Set("Authorization", "Bearer agent-token")
	resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("agent stream: %s", resp.Status)
	}
	for { // the replica names itself, then acknowledges the batch once published
		kind, payload, err := stream.ReadFrame(resp.Body)
		if err != nil {
			t.Fatalf("agent stream: %v", err)
		}
		if kind == stream.KindAck && string(payload) == `{"seq":1}` {
			return attributed
		}
	}
}

// boundContainer is the runtime id of the container alice's shell ran in.
const boundContainer = "4d1c6e0a9b7f2e3d4c5b6a79887766554433221100ffeeddccbbaa9988776655"

// waitStored waits until the history answers query with want alerts.
func waitStored(t *testing.T, ts *testServer, query string, want int) {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, body := get(t, ts.webURL+"/api/v1/alerts?"+query)
		var p struct{ Items []json.RawMessage }
		json.Unmarshal([]byte(body), &p)
		if len(p.Items) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d alerts stored, want %d", query, len(p.Items), want)
		}
	}
}

func saveScreenshot(t *testing.T, png []byte) {
	if len(png) < 10_000 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("the screenshot is not a picture (%d bytes)", len(png))
	}
	path := filepath.Join(t.TempDir(), "ui-session.png")
	if p := os.Getenv("PEREGRINE_SCREENSHOT"); p != "" {
		path = p
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
