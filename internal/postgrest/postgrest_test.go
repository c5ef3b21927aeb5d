package postgrest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/auth"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/postgrest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Seeded ids (supabase/seed.sql).
const (
	lena       = "10000000-0000-4000-8000-000000000004"
	convLena   = "40000000-0000-4000-8000-000000000001" // Lena takes part
	convKyoto  = "40000000-0000-4000-8000-000000000005" // wedding 2: Lena does not
	weddingOne = "30000000-0000-4000-8000-000000000001"
)

func server(t *testing.T) (*pgtest.DB, *httptest.Server) {
	t.Helper()
	db := pgtest.NewSeededDB(t)
	v, err := auth.NewVerifier(auth.Config{JWTSecret: auth.DevJWTSecret, OpaqueKeys: auth.DevOpaqueKeys()})
	require.NoError(t, err)
	h, err := postgrest.New(db.Pool, postgrest.Config{Verifier: v, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle(postgrest.Pattern, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return db, srv
}

func mint(t *testing.T, secret, user, email string) string {
	t.Helper()
	tok, err := auth.MintUser(secret, auth.UserToken{UserID: user, Email: email, TTL: time.Hour})
	require.NoError(t, err)
	return tok
}

type result struct {
	Data   json.RawMessage `json:"data"`
	Status int             `json:"status"`
	Error  *struct {
		Code    string  `json:"code"`
		Message string  `json:"message"`
		Details *string `json:"details"`
		Hint    *string `json:"hint"`
	} `json:"error"`
}

// supabase-js rpc() runs functions as the caller (RLS applies), and PostgREST's error shape
// comes back for what is refused: an unexposed function, a bad JWT, a role without EXECUTE.
func TestSupabaseJSRPCRunsAsTheCaller(t *testing.T) {
	t.Parallel()
	db, srv := server(t)
	nodeBin, err := exec.LookPath("node")
	require.NoError(t, err, "node is required (make deps)")
	body := "Confirmed the golden-hour portraits (rpc test " + time.Now().Format(time.RFC3339Nano) + ")"
	cmd := exec.CommandContext(t.Context(), nodeBin, "testdata/rpc.mjs")
	cmd.Env = append(os.Environ(), "URL="+srv.URL, "ANON_KEY="+auth.DevAnonKey,
		"LENA_TOKEN="+mint(t, auth.DevJWTSecret, lena, "lena@lumenandlace.example.com"),
		"FORGED_TOKEN="+mint(t, "a-different-secret-that-is-long-enough-to-sign", lena, "lena@lumenandlace.example.com"),
		"CONV_LENA="+convLena, "CONV_OTHER="+convKyoto, "WEDDING="+weddingOne, "BODY="+body)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	var res map[string]result
	require.NoError(t, json.Unmarshal(out, &res), string(out))

	// send_message (SECURITY INVOKER) ran as Lena: the row's sender is her.
	send := res["send"]
	require.Nil(t, send.Error)
	require.Equal(t, http.StatusOK, send.Status)
	var m map[string]any
	require.NoError(t, json.Unmarshal(send.Data, &m))
	require.Equal(t, body, m["body"])
	require.Equal(t, lena, m["sender_id"])
	var sender string
	require.NoError(t, db.Pool.QueryRow(t.Context(), `select sender_id::text from public.messages where id = $1`, m["id"]).Scan(&sender))
	require.Equal(t, lena, sender)

	// RLS refuses a conversation she is not part of: 42501, 403 for a signed-in role.
	require.Equal(t, http.StatusForbidden, res["sendElsewhere"].Status)
	require.Equal(t, "42501", res["sendElsewhere"].Error.Code)
	var n int
	require.NoError(t, db.Pool.QueryRow(t.Context(), `select count(*) from public.messages where body = 'not mine'`).Scan(&n))
	require.Zero(t, n, "nothing written")

	// A scalar result and a set result.
	require.Equal(t, http.StatusOK, res["read"].Status)
	var readAt string
	require.NoError(t, json.Unmarshal(res["read"].Data, &readAt))
	_, err = time.Parse(time.RFC3339Nano, readAt)
	require.NoError(t, err, "a timestamptz comes back as a JSON string: %s", res["read"].Data)
	var prefs []map[string]any
	require.NoError(t, json.Unmarshal(res["prefs"].Data, &prefs))
	require.NotEmpty(t, prefs)
	for _, p := range prefs {
		require.Equal(t, lena, p["user_id"], "only the caller's rows (RLS)")
	}
	require.Equal(t, http.StatusBadRequest, res["badPrefs"].Status)
	require.Equal(t, "23514", res["badPrefs"].Error.Code, "the domain refuses an unknown category")

	// GET for a stable function; TABLE results become an array of objects.
	require.Equal(t, http.StatusOK, res["availability"].Status, "%+v", res["availability"].Error)
	var vendors []map[string]any
	require.NoError(t, json.Unmarshal(res["availability"].Data, &vendors))
	require.NotEmpty(t, vendors)
	require.Contains(t, vendors[0], "vendor_name")

	// anon has no EXECUTE on send_message: 42501 is 401 for anon.
	require.Equal(t, http.StatusUnauthorized, res["anonSend"].Status)
	require.Equal(t, "42501", res["anonSend"].Error.Code)

	// Functions outside the exposed schema do not exist for the API.
	for _, name := range []string{"unexposed", "privateHelper"} {
		require.Equal(t, http.StatusNotFound, res[name].Status, name)
		require.Equal(t, "PGRST202", res[name].Error.Code, name)
		require.Contains(t, res[name].Error.Message, "Could not find the function public.")
	}
	// Unknown argument names: PGRST202 with a hint naming the real signature.
	require.Equal(t, "PGRST202", res["unknownArgs"].Error.Code)
	require.NotNil(t, res["unknownArgs"].Error.Hint)
	require.Contains(t, *res["unknownArgs"].Error.Hint, "public.send_message(conversation_id uuid, body text, reply_to uuid)")

	// A JWT signed with another secret: 401 PGRST301.
	require.Equal(t, http.StatusUnauthorized, res["forged"].Status)
	require.Equal(t, "PGRST301", res["forged"].Error.Code)
	require.NoError(t, db.Pool.QueryRow(t.Context(), `select count(*) from public.messages where body = 'forged'`).Scan(&n))
	require.Zero(t, n)
}

func do(t *testing.T, method, url string, body string, header map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp, m
}

// Bad requests get PostgREST's error shape and write nothing.
func TestBadRequestsGetPostgRESTErrors(t *testing.T) {
	t.Parallel()
	db, srv := server(t)
	tok := mint(t, auth.DevJWTSecret, lena, "lena@lumenandlace.example.com")
	bearer := map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
	url := srv.URL + "/rest/v1/rpc/send_message"

	resp, e := do(t, http.MethodPost, url, `{"conversation_id": `, bearer)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "PGRST102", e["code"])
	require.Contains(t, e, "details")
	require.Contains(t, e, "hint")

	resp, e = do(t, http.MethodPost, url, `{"conversation_id": "`+convLena+`", "body": "x"}`,
		map[string]string{"Authorization": "Bearer " + tok, "Content-Profile": "vendorhub"})
	require.Equal(t, http.StatusNotAcceptable, resp.StatusCode)
	require.Equal(t, "PGRST106", e["code"])

	resp, e = do(t, http.MethodGet, url+"?conversation_id="+convLena+"&body=x", "", bearer)
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "a volatile function needs POST")
	require.Equal(t, "PGRST101", e["code"])

	resp, e = do(t, http.MethodPost, url, `{"conversation_id": "not-a-uuid", "body": "x"}`, bearer)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "22P02", e["code"])

	resp, e = do(t, http.MethodPost, url, `{"conversation_id": "`+convLena+`", "body": "   "}`, bearer)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "23514", e["code"], "a blank body violates the messages check")

	expired, err := auth.MintUser(auth.DevJWTSecret, auth.UserToken{UserID: lena, TTL: time.Minute, IssuedAt: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	resp, e = do(t, http.MethodPost, url, `{}`, map[string]string{"Authorization": "Bearer " + expired})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "PGRST301", e["code"])
	require.Equal(t, "JWT expired", e["message"])
	require.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`)

	resp, e = do(t, http.MethodPost, url, `{}`, map[string]string{"Authorization": "Basic abc"})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "PGRST301", e["code"])

	// A validly signed token for a role the API may not switch to (here the superuser).
	admin, err := auth.MintHS256(auth.DevJWTSecret, jwt.MapClaims{"role": "postgres", "exp": time.Now().Add(time.Hour).Unix()})
	require.NoError(t, err)
	resp, e = do(t, http.MethodPost, url, `{"conversation_id": "`+convLena+`", "body": "x"}`, map[string]string{"Authorization": "Bearer " + admin})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, "42501", e["code"])

	resp, _ = do(t, http.MethodPost, url, strings.Repeat(" ", 2<<20), bearer)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	// The opaque publishable key stands for the anon key: anon may not send.
	resp, e = do(t, http.MethodPost, url, `{"conversation_id": "`+convLena+`", "body": "x"}`,
		map[string]string{"apikey": auth.DevPublishableKey})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "42501", e["code"])

	var n int
	require.NoError(t, db.Pool.QueryRow(t.Context(), `select count(*) from public.messages where body in ('x', '   ')`).Scan(&n))
	require.Zero(t, n)

	// CORS preflight, as a browser sends it before supabase-js's POST.
	resp, _ = do(t, http.MethodOptions, url, "", map[string]string{"Origin": "http://localhost:3000",
		"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, apikey, content-type, x-client-info"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "http://localhost:3000", resp.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), "POST")
	require.Contains(t, strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "x-client-info")
}

// The request's settings are visible to the function, as PostgREST sets them.
func TestRequestSettingsReachTheFunction(t *testing.T) {
	t.Parallel()
	db, srv := server(t)
	_, err := db.Pool.Exec(t.Context(), `
create function public.whoami(greeting text default 'hi') returns jsonb language sql stable as $$
  select jsonb_build_object('greeting', greeting, 'role', current_user, 'sub', auth.uid(),
    'method', current_setting('request.method', true), 'path', current_setting('request.path', true),
    'agent', current_setting('request.headers', true)::jsonb ->> 'user-agent',
    'claims_role', current_setting('request.jwt.claims', true)::jsonb ->> 'role')
$$;
create function public.nothing() returns void language sql as $$ select $$;`)
	require.NoError(t, err)
	tok := mint(t, auth.DevJWTSecret, lena, "lena@lumenandlace.example.com")
	resp, m := do(t, http.MethodPost, srv.URL+"/rest/v1/rpc/whoami", `{"greeting": "hello"}`,
		map[string]string{"Authorization": "Bearer " + tok, "User-Agent": "rpc-test"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, map[string]any{"greeting": "hello", "role": "authenticated", "sub": lena, "method": "POST",
		"path": "/rpc/whoami", "agent": "rpc-test", "claims_role": "authenticated"}, m)

	resp, m = do(t, http.MethodGet, srv.URL+"/rest/v1/rpc/whoami", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "anon", m["role"])
	require.Equal(t, "hi", m["greeting"], "an omitted argument takes its default")

	resp, _ = do(t, http.MethodPost, srv.URL+"/rest/v1/rpc/nothing", "", map[string]string{"Authorization": "Bearer " + tok})
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
}

func TestStatusMapping(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]int{"42501": 403, "P0001": 400, "23505": 409, "23503": 409, "08006": 503,
		"25006": 405, "42883": 404, "PT402": 402, "22023": 400, "57014": 500, "53100": 503, "53400": 500, "28000": 403} {
		require.Equal(t, want, postgrest.Status(code, true), code)
	}
	require.Equal(t, 401, postgrest.Status("42501", false))
}
