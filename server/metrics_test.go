package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/apitest"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/rules"
	"github.com/healthcode/healthcode/server"
	"github.com/healthcode/healthcode/store"
)

// TestMetrics drives each metered path once (a failed and a throttled
// login, a fact batch that changes a code and one that is refused, a
// token, a published ruleset's job, checkpoints cosigned by two
// witnesses), then reads /metrics as Prometheus does: the exposition
// parses, promlint (promtool check metrics) finds no problem, each family
// says what happened and is listed in docs/operations.md.
func TestMetrics(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		f := mustFixture(t, dsn)
		// A server issuing tokens and witnessing its log (the last server
		// over the store observes it).
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		srv := server.New(f.db, server.Config{Logger: quiet, KeySecret: keySecret, Issuer: "cn-41", KeyPoll: 20 * time.Millisecond})
		if err := srv.StartTokens(ctx); err != nil {
			t.Fatal(err)
		}
		if err := srv.StartWitnessing(ctx, server.WitnessConfig{Policy: mustWitnessPolicy(t, f.db), Poll: 20 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		ts := apitest.Server(t, srv)
		for _, id := range []string{"o_cmdp1", "o_cmdp2"} {
			if err := f.db.CreateOfficial(system, healthcode.Official{ID: id, Name: id, Role: healthcode.RoleCommand, Jurisdiction: "410000"}, "login-"+id, password); err != nil {
				t.Fatal(err)
			}
		}
		cmd := func(id string) context.Context {
			return healthcode.NewContext(context.Background(), healthcode.Actor{Kind: healthcode.ActorOfficial, ID: id, Role: healthcode.RoleCommand, Jurisdiction: "410000"})
		}
		if _, err := f.db.DraftRuleset(cmd("o_cmdp1"), "default.yaml", rules.DefaultSource()); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.DecideRuleset(cmd("o_cmdp2"), "henan-health-code", 1, true, ""); err != nil {
			t.Fatal(err)
		}
		const key = "hck_metricsmetricsmetricsmetric1"
		if err := f.db.CreateSource(system, healthcode.Source{ID: "s_lab", Name: "实验室", Kinds: []string{"test_result"}, Jurisdiction: "410000"}, key); err != nil {
			t.Fatal(err)
		}
		day := time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
		pcr := `{"id":"a","kind":"test_result","subject":"r_res1","observed_at":"` + day + `","payload":{"method":"pcr","result":"positive","sampled_at":"` + day + `","lab":"x"}}`
		post := func(body string) int {
			t.Helper()
			req, _ := http.NewRequest("POST", ts.URL+"/v1/facts", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if s := post(pcr + "\n"); s != 200 && s != 201 {
			t.Fatalf("facts: %d", s)
		}
		if s := post(pcr + "\n"); s != 200 && s != 201 { // the same again: a duplicate
			t.Fatalf("facts again: %d", s)
		}
		if s := post(`{"id":"b","kind":"test_result","subject":"r_nobody","observed_at":"` + day + `"}` + "\n"); s != 400 {
			t.Fatalf("bad facts: %d", s)
		}
		res1 := f.login(t, "login-r_res1")
		mustToken(t, ts.URL, "r_res1", res1)
		// Six wrong passwords: five fail, the sixth is throttled (429).
		for range 6 {
			req, _ := http.NewRequest("POST", ts.URL+"/v1/sessions", strings.NewReader(`{"login":"login-r_res2","password":"wrong"}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}

		// The witnesses have cosigned a checkpoint (the witness metrics
		// then have a series each).
		for deadline := time.Now().Add(20 * time.Second); ; {
			_, cp := get(t, ts.URL+"/log/checkpoint", "")
			if strings.Contains(string(cp), "\n— w1.test ") && strings.Contains(string(cp), "\n— w2.test ") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no cosigned checkpoint within 20 s:\n%s", cp)
			}
			time.Sleep(20 * time.Millisecond)
		}

		resp, err := http.Get(ts.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("/metrics: %d", resp.StatusCode)
		}
		parser := expfmt.NewTextParser(model.LegacyValidation)
		families, err := parser.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatalf("/metrics does not parse: %v", err)
		}
		var mfs []*dto.MetricFamily
		for _, mf := range families {
			mfs = append(mfs, mf)
		}
		problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}

		// Every family is in docs/operations.md's list (the runtime's and
		// the pools' by their prefix).
		doc, err := os.ReadFile("../docs/operations.md")
		if err != nil {
			t.Fatal(err)
		}
		for name := range families {
			documented := strings.Contains(string(doc), "`"+name+"`") || strings.Contains(string(doc), "`"+name+"{")
			for _, prefix := range []string{"go_sql_", "go_", "process_"} {
				documented = documented || strings.HasPrefix(name, prefix) && strings.Contains(string(doc), "`"+prefix+"*")
			}
			if !documented {
				t.Errorf("metric %s is not in docs/operations.md", name)
			}
		}

		value := func(name string, labels map[string]string) (float64, bool) {
			mf := families[name]
			if mf == nil {
				return 0, false
			}
		next:
			for _, m := range mf.Metric {
				for _, lp := range m.Label {
					if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
						continue next
					}
				}
				switch {
				case m.Counter != nil:
					return m.Counter.GetValue(), true
				case m.Gauge != nil:
					return m.Gauge.GetValue(), true
				case m.Histogram != nil:
					return float64(m.Histogram.GetSampleCount()), true
				}
			}
			return 0, false
		}
		for _, tt := range []struct {
			name   string
			labels map[string]string
			min    float64
		}{
			{"healthcode_facts_ingested_total", map[string]string{"source": "s_lab", "outcome": "active"}, 1},
			{"healthcode_facts_ingested_total", map[string]string{"source": "s_lab", "outcome": "duplicate"}, 1},
			{"healthcode_facts_ingested_total", map[string]string{"source": "s_lab", "outcome": "rejected"}, 1},
			{"healthcode_evaluation_duration_seconds", nil, 1},
			{"healthcode_evaluated_residents_total", nil, 1},
			{"healthcode_code_changes_total", map[string]string{"colour": "red", "cause": "fact"}, 1},
			{"healthcode_tokens_issued_total", nil, 1},
			{"healthcode_login_failures_total", map[string]string{"reason": "wrong_password"}, 5},
			{"healthcode_login_failures_total", map[string]string{"reason": "throttled"}, 1},
			{"healthcode_http_requests_shed_total", map[string]string{"route": "/v1/sessions", "status": "429"}, 1},
			{"healthcode_log_size_entries", nil, 10},
			{"healthcode_log_checkpoint_age_seconds", nil, 0},
			{"healthcode_jobs_pending", nil, 1}, // the published ruleset's job: no scheduler runs here
			{"healthcode_jobs_oldest_due_age_seconds", nil, 0},
			{"healthcode_job_failures_total", nil, 0},
			{"healthcode_build_info", nil, 1},
			{"go_sql_open_connections", nil, 0},
			{"healthcode_witness_requests_total", map[string]string{"witness": "w1.test", "result": "cosigned"}, 1},
			{"healthcode_witness_cosigned_checkpoint_age_seconds", nil, 0},
			{"healthcode_admission_in_flight", nil, 0},
			{"healthcode_admission_shed_total", nil, 0},
			{"healthcode_integrity_alerts_total", nil, 0},
		} {
			v, ok := value(tt.name, tt.labels)
			if !ok || v < tt.min {
				t.Errorf("%s%v = %v (present %v), want at least %v", tt.name, tt.labels, v, ok, tt.min)
			}
		}
		// The log's size is the signed checkpoint's, not this process's
		// count of its appends.
		size, _ := value("healthcode_log_size_entries", nil)
		resp, err = http.Get(ts.URL + "/log/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		cp, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if lines := strings.Split(string(cp), "\n"); len(lines) < 2 || lines[1] != strconv.FormatFloat(size, 'f', -1, 64) {
			t.Errorf("healthcode_log_size_entries %v, checkpoint:\n%s", size, cp)
		}
		// A process that has written nothing (another replica, or this one
		// after a restart) reports the same size.
		other, err := store.Open(context.Background(), dsn, store.Options{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		_, b := get(t, apitest.Server(t, server.New(other, server.Config{Logger: quiet})).URL+"/metrics", "")
		if want := fmt.Sprintf("\nhealthcode_log_size_entries %s\n", strconv.FormatFloat(size, 'f', -1, 64)); !strings.Contains(string(b), want) {
			t.Errorf("a fresh process's metrics lack %q:\n%s", strings.TrimSpace(want), b)
		}
	})
}
