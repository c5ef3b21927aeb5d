package provider_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The one-vocabulary rule, enforced: outside this package, no non-test Go file of the module
// reads Retry-After, declares a classified-failure error type, or implements a back-off or a
// jitter of its own. Each exception names why it is not one.
var (
	// errorTypesAllowed are struct types outside this package with a RetryAfter, Retryable or
	// RateLimited field.
	errorTypesAllowed = map[string]string{
		"OpenError": "a circuit breaker's refusal (no provider was called); callers turn it into provider.BreakerOpen",
	}
	// errorTypesAllowedIn are *Error struct types declared in provider client packages.
	errorTypesAllowedIn = map[string]string{
		"internal/oauth.ReauthRequiredError": "a connection state (the vendor must re-authorize), not a failed call",
		"internal/calendar/ical.ParseError":  "a feed's content that does not parse, not a failed call",
		"internal/calendar/ical.LimitError":  "a feed over one of the parser's caps, not a failed call; the source wraps it in a permanent *provider.Error",
		"internal/crm.MappingError":          "a CRM payload that does not map, not a failed call",
		"internal/realtime/rtclient.DialError": "the test and benchmark client's refusal, asserted on by tests; " +
			"no retry is decided from it",
		"internal/realtime/rtclient.ReplyError": "a Phoenix error reply of the test and benchmark client, not an HTTP failure",
	}
	// randAllowed are non-test files outside this package that may import math/rand.
	randAllowed = map[string]string{
		"internal/replication/config.go":        "a random slot-name suffix, not a wait",
		"bench/calendar.go":                     "synthetic benchmark data, not a wait",
		"internal/providerfake/providerfake.go": "a fake provider's injected answer latency and error share, not a retry wait",
	}
	// providerClients are the packages that call providers: no error types of their own.
	providerClients = []string{"internal/channel", "internal/deliver", "internal/webhook/outbound", "internal/connector",
		"internal/calendar", "internal/crm", "internal/oauth", "internal/realtime", "internal/integration", "internal/health"}
)

var (
	readsRetryAfter  = regexp.MustCompile(`(?i)\.(Get|Values)\(\s*"retry-after"\s*\)|\[\s*"Retry-After"\s*\]`)
	parseRetryAfter  = regexp.MustCompile(`(?i)^parse\w*retry|retry\w*after\w*parse`)
	backoffOrJitter  = regexp.MustCompile(`(?i)backoff|jitter`)
	errorTypeName    = regexp.MustCompile(`Error$`)
	classifiedFields = map[string]bool{"RetryAfter": true, "Retryable": true, "RateLimited": true}
)

func TestOneVocabulary(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	own := filepath.Join(root, "internal", "provider")
	var violations []string
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", ".git", "vendor", "testdata":
				return filepath.SkipDir
			}
			if path == own {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		violations = append(violations, check(t, rel, src)...)
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, files, 100, "the walk found the module's files")
	require.Empty(t, violations, "use package provider instead")
}

// check returns the violations of one non-test file.
func check(t *testing.T, rel string, src []byte) []string {
	var out []string
	if m := readsRetryAfter.Find(src); m != nil {
		out = append(out, rel+": reads Retry-After ("+string(m)+"): use provider.RetryAfterHeader")
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, rel, src, parser.SkipObjectResolution)
	require.NoError(t, err, rel)
	dir := filepath.ToSlash(filepath.Dir(rel))
	client := false
	for _, p := range providerClients {
		if dir == p || strings.HasPrefix(dir, p+"/") {
			client = true
		}
	}
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); (p == "math/rand" || p == "math/rand/v2") && randAllowed[rel] == "" {
			out = append(out, rel+": imports "+p+" (a jitter of its own?): use provider.Jitter or provider.Backoff")
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			name := n.Name.Name
			if backoffOrJitter.MatchString(name) {
				out = append(out, rel+": func "+name+": use provider.Backoff / provider.Jitter")
			}
			if parseRetryAfter.MatchString(name) {
				out = append(out, rel+": func "+name+": use provider.ParseRetryAfter")
			}
		case *ast.TypeSpec:
			st, ok := n.Type.(*ast.StructType)
			if !ok {
				return true
			}
			name := n.Name.Name
			for _, fld := range st.Fields.List {
				for _, id := range fld.Names {
					if classifiedFields[id.Name] && errorTypeName.MatchString(name) && errorTypesAllowed[name] == "" {
						out = append(out, rel+": type "+name+" has field "+id.Name+": use *provider.Error")
					}
				}
			}
			if client && errorTypeName.MatchString(name) && errorTypesAllowedIn[dir+"."+name] == "" && errorTypesAllowed[name] == "" {
				out = append(out, rel+": type "+name+" in a provider client: use *provider.Error")
			}
		}
		return true
	})
	return out
}

// TestOneVocabularyCatches: the checks find what they look for (a rule that can't fail proves
// nothing).
func TestOneVocabularyCatches(t *testing.T) {
	t.Parallel()
	bad := []byte(`package x

import (
	"math/rand/v2"
	"net/http"
	"time"
)

type HTTPError struct {
	Status     int
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string { return "" }

func parseRetryAfter(h http.Header) string { return h.Get("Retry-After") }

func backoff(n int) time.Duration { return time.Duration(rand.N(n)) }
`)
	got := check(t, "internal/realtime/x.go", bad)
	require.Len(t, got, 6, strings.Join(got, "\n"))
	require.Empty(t, check(t, "internal/other/y.go", []byte("package y\n\ntype Thing struct{ Status int }\n")))
}
